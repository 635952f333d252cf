"""``marketplace db``: schema migrations."""

from __future__ import annotations

import typer
from alembic.util import CommandError

from marketplace.cli.context import database, settings_or_exit
from marketplace.cli.exit_codes import ExitCode
from marketplace.cli.output import JsonOutput, report
from marketplace.db import migrate
from marketplace.errors import InvalidInput

app = typer.Typer(help="Database schema: migrate and inspect.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    revision: str = typer.Argument("head", help="Target revision."),
    json_output: JsonOutput = False,
) -> None:
    """Migrate the database to the latest schema (safe to run again).

    JSON: {"before": revision or null (empty database), "after": revision}.
    """
    settings = settings_or_exit()
    with database(settings) as db:
        before = migrate.current_revision(db.engine)
        try:
            migrate.upgrade(db.engine, revision)
        except CommandError as exc:  # an unknown or ambiguous revision: nothing was migrated
            raise InvalidInput(str(exc), field="revision") from None
        after = migrate.current_revision(db.engine)
    report(
        {"before": before, "after": after},
        f"database at revision [bold]{after}[/bold] (was {before or 'empty'})",
        json_output=json_output,
    )


@app.command("current")
def current(json_output: JsonOutput = False) -> None:
    """Show the schema revision of the database and of this code; exit 1 (warning) if they differ.

    JSON: {"database": revision or null (empty database), "code": revision, "up_to_date": bool}.
    """
    settings = settings_or_exit()
    with database(settings) as db:
        revision = migrate.current_revision(db.engine)
    head = migrate.head_revision()
    up_to_date = revision == head
    human = [f"database: {revision or 'empty'}; code: {head}"]
    if not up_to_date:
        human.append("[yellow]run `marketplace db upgrade`[/yellow]")
    report({"database": revision, "code": head, "up_to_date": up_to_date}, *human, json_output=json_output)
    if not up_to_date:
        raise typer.Exit(ExitCode.WARNING)
