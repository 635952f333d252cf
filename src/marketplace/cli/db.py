"""``marketplace db``: schema migrations."""

from __future__ import annotations

import typer

from marketplace.cli.context import console, database, settings_or_exit
from marketplace.db import migrate

app = typer.Typer(help="Database schema: migrate and inspect.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the database to the latest schema (safe to run again)."""
    settings = settings_or_exit()
    with database(settings) as db:
        before = migrate.current_revision(db.engine)
        migrate.upgrade(db.engine, revision)
        after = migrate.current_revision(db.engine)
    console.print(f"database at revision [bold]{after}[/bold] (was {before or 'empty'})")


@app.command("current")
def current() -> None:
    """Show the schema revision of the database and of this code."""
    settings = settings_or_exit()
    with database(settings) as db:
        revision = migrate.current_revision(db.engine)
    head = migrate.head_revision()
    console.print(f"database: {revision or 'empty'}; code: {head}")
    if revision != head:
        console.print("[yellow]run `marketplace db upgrade`[/yellow]")
        raise typer.Exit(1)
