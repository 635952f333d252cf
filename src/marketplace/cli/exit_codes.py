"""The exit-code contract of every ``marketplace`` command: the one table.

Monitoring-style (0 ok, 1 warning, 2 critical), so that an operations command can be run by a
timer or an alerting system as it is. ``docs/cli.md`` and the main ``--help`` are generated from
this enum; commands end with ``raise typer.Exit(ExitCode.WARNING)`` and the like, or raise a
domain error, which ``marketplace.cli.errors`` turns into ``CRITICAL``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final


class ExitCode(IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def meaning(self) -> str:
        """One line for the operator: what this exit status tells them."""
        return _MEANINGS[self]


_MEANINGS: Final = {
    ExitCode.OK: "done; nothing needs attention",
    ExitCode.WARNING: (
        "done, but something needs attention (for example the database schema is behind the code, "
        "or `marketplace logs` found warnings)"
    ),
    ExitCode.CRITICAL: (
        "critical or refused: something critical was found (`marketplace logs` found errors), "
        "invalid settings, refused input or a domain error (the message says which), "
        "or the command failed unexpectedly (its traceback is logged on standard error)"
    ),
}
