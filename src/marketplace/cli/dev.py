"""``marketplace dev``: development helpers (demo data, generated reference docs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from marketplace.cli.context import console, database, err_console, settings_or_exit
from marketplace.cli.exit_codes import ExitCode
from marketplace.db import migrate
from marketplace.errors import Conflict, Forbidden

app = typer.Typer(help="Development helpers.", no_args_is_help=True)


@app.command("seed")
def seed() -> None:
    """Add demo accounts and ~36 listings with pictures, and print the demo credentials.

    Development only (MARKETPLACE_ENV=development). Safe to run again: it creates only what is
    missing and prints the same credentials, kept in <data_dir>/demo-credentials.txt.
    """
    from marketplace.demo.seed import CREDENTIALS_FILE, DemoSeedError, seed_demo_data

    settings = settings_or_exit()
    if not settings.is_development:
        raise Forbidden("demo data is for development only; set MARKETPLACE_ENV=development")
    with database(settings) as db:
        if migrate.current_revision(db.engine) != migrate.head_revision():
            raise Conflict("the database schema is not current: run `marketplace db upgrade` first")
        try:
            with console.status("adding demo listings…"):
                report = seed_demo_data(db, settings)
        except DemoSeedError as exc:
            raise Conflict(f"cannot seed: {exc}") from None
    table = Table(title="Demo accounts (development only)")
    table.add_column("username")
    table.add_column("role")
    table.add_column("password", overflow="fold", min_width=20)
    for username, role, password in report.credentials:
        table.add_row(username, role, password)
    console.print(table)
    console.print(
        f"created {report.accounts_created} accounts, {report.listings_created} listings and "
        f"{report.images_created} images; credentials kept in {settings.data_dir / CREDENTIALS_FILE}",
        highlight=False,
        soft_wrap=True,
    )
    if report.passwords_reset:
        console.print(f"{report.passwords_reset} demo password(s) were reset to match the credentials file")


@app.command("docs")
def docs(
    docs_dir: Annotated[Path, typer.Option("--docs-dir", help="Where the generated references go.")] = Path("docs"),
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if a file is out of date.")] = False,
) -> None:
    """Write docs/configuration.md, docs/cli.md and docs/api.md from the code."""
    from marketplace.docs_reference import generated_documents

    stale = []
    for name, text in generated_documents().items():
        path = docs_dir / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if check and stale:
        for path in stale:
            err_console.print(
                f"[yellow]{path} is out of date:[/yellow] run `marketplace dev docs`", highlight=False, soft_wrap=True
            )
        raise typer.Exit(ExitCode.WARNING)
    for path in stale:
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)
    if not stale:
        console.print("the generated docs are up to date")
