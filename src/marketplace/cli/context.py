"""What every command needs: settings (with a clear message when they are invalid) and a database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from pydantic import ValidationError
from rich.console import Console

from marketplace.db.engine import Database
from marketplace.settings import InsecureSettings, Settings, load_settings

console = Console()
err_console = Console(stderr=True)

EXIT_OK = 0
EXIT_WARNING = 1
EXIT_ERROR = 2


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except (ValidationError, InsecureSettings) as exc:
        lines = (
            [f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()]
            if isinstance(exc, ValidationError)
            else [str(exc)]
        )
        for line in lines:
            err_console.print(f"[red]configuration error:[/red] {line.removeprefix('Value error, ')}", highlight=False)
        raise typer.Exit(EXIT_ERROR) from None


@contextmanager
def database(settings: Settings) -> Iterator[Database]:
    db = Database.from_settings(settings)
    try:
        yield db
    finally:
        db.dispose()
