"""Entry point of the ``marketplace`` command."""

from __future__ import annotations

import typer

from marketplace import __version__
from marketplace.cli import db, dev, users
from marketplace.cli.serve import serve

app = typer.Typer(
    help="Monero Marketplace: run the site and operate it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("serve")(serve)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(dev.app, name="dev")


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


if __name__ == "__main__":
    app()
