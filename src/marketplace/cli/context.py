"""What every command needs: settings (refused with a readable reason when invalid) and a database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError
from rich.console import Console

from marketplace.db.engine import Database
from marketplace.logs import set_log_level
from marketplace.settings import InsecureSettings, Settings, load_settings

console = Console()
err_console = Console(stderr=True)


class InvalidConfiguration(Exception):
    """The settings are invalid or insecure; ``problems`` are (setting or None, reason) pairs.

    Raised by :func:`settings_or_exit`; the root command group prints it and exits CRITICAL.
    """

    def __init__(self, problems: list[tuple[str | None, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(self.reasons))

    @property
    def reasons(self) -> list[str]:
        """One ``setting: reason`` text per problem."""
        return [f"{name}: {reason}" if name else reason for name, reason in self.problems]


def settings_or_exit() -> Settings:
    """The settings, with the log level they name applied.

    Raises :class:`InvalidConfiguration`, which the root group turns into a message and exit CRITICAL.
    """
    try:
        settings = load_settings()
    except ValidationError as exc:
        problems = [
            (".".join(str(part) for part in error["loc"]) or None, error["msg"].removeprefix("Value error, "))
            for error in exc.errors()
        ]
        raise InvalidConfiguration(problems) from None
    except InsecureSettings as exc:
        raise InvalidConfiguration([(None, str(exc))]) from None
    set_log_level(settings.log_level)  # a valid level: the settings refuse any other
    return settings


@contextmanager
def database(settings: Settings) -> Iterator[Database]:
    db = Database.from_settings(settings)
    try:
        yield db
    finally:
        db.dispose()
