"""Entry point of the ``marketplace`` command.

The root group (``cli.errors.MarketplaceGroup``) runs every command: it sets up logging and
turns what a command raises into an exit code from ``cli.exit_codes``.
"""

from __future__ import annotations

import typer

from marketplace import __version__
from marketplace.cli import db, dev, jobs, users
from marketplace.cli.errors import MarketplaceGroup
from marketplace.cli.exit_codes import ExitCode
from marketplace.cli.logs import logs
from marketplace.cli.output import JsonOutput, report
from marketplace.cli.serve import serve

_EXIT_CODES = ", ".join(f"{code.value} {code.name.lower()}" for code in ExitCode)

app = typer.Typer(
    cls=MarketplaceGroup,
    help=(
        "Monero Marketplace: run the site and operate it.\n\n"
        f"Exit codes: {_EXIT_CODES}; docs/cli.md explains them. Logs go to standard error as JSON lines."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("serve")(serve)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.command("worker")(jobs.worker)
app.add_typer(jobs.app, name="jobs")
app.command("logs")(logs)
app.add_typer(dev.app, name="dev")


@app.command("version")
def version(json_output: JsonOutput = False) -> None:
    """Print the version."""
    report({"version": __version__}, __version__, json_output=json_output)


if __name__ == "__main__":
    app()
