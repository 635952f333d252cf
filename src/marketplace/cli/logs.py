"""``marketplace logs``: the runbook's log review (warnings and errors by event, with the latest example)."""

from __future__ import annotations

import gzip
import os
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.markup import escape

from marketplace.cli.exit_codes import ExitCode
from marketplace.cli.output import JsonOutput, report
from marketplace.db.base import utcnow
from marketplace.errors import InvalidInput
from marketplace.logs import plain_text
from marketplace.observability.log_review import (
    LEVELS,
    LineSource,
    LogReview,
    exception_headline,
    parse_since,
    review,
)

STDIN = "-"
# How much of the latest example a person sees on one line (``--json`` has all of it).
_HUMAN_EXAMPLE = 400


class Level(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


def logs(
    files: Annotated[
        list[str] | None,
        typer.Argument(
            help="Log files (a .gz file is read compressed); '-' or none: standard input, e.g. piped from "
            "`docker compose logs` or `journalctl -o short`.",
            show_default=False,
        ),
    ] = None,
    since: str = typer.Option("1h", "--since", help="Only records from then on: 30m, 1h, 2d, 1w ago, or an ISO time."),
    level: Level = typer.Option(
        Level.WARNING, "--level", case_sensitive=False, help="Only records at this level and above."
    ),
    json_output: JsonOutput = False,
) -> None:
    """Summarise the app's JSON log lines by event: count, first and last time, sources, the latest example.

    Reads the lines as the app wrote them, or prefixed by `docker compose logs` (`web-1  | {...}`)
    or journald (`Dec 01 05:00:00 host marketplace[123]: {...}`). Lines that are not log records
    (other services' output, lines over 1 MiB, a truncated .gz) are counted and skipped. Exit 0:
    nothing at WARNING or above; 1: warnings (or no log record at all: nothing read, or no line of
    the app's); 2: errors or critical. docs/observability.md (section Logs) explains the report.
    JSON: {"since", "level", "lines", "records", "matched", "worst", "skipped": {"not_json",
    "not_a_record", "too_long", "read_errors"}, "skipped_examples": [{"source", "line", "reason",
    "text"}], "events": [{"event", "level", "count", "first", "last", "sources", "latest"}]}.
    """
    start = parse_since(since, now=utcnow())
    names = files or [STDIN]
    if STDIN in names and sys.stdin.isatty():
        # Nothing is piped in: waiting for a person to type log lines would only look like a hang.
        raise InvalidInput(
            "name log files, or pipe the lines in (docker compose logs | marketplace logs)", field="files"
        )
    for name in names:
        path = Path(name)
        # A named pipe (`<(docker compose logs)`) is fine; a directory or an unreadable file is not.
        if name != STDIN and (not path.exists() or path.is_dir() or not os.access(path, os.R_OK)):
            raise InvalidInput(f"{plain_text(name)} is not a readable file", field="files")
    result = review(_streams(names), since=start, level=level.value)
    report(result.to_dict(), *_human(result), json_output=json_output)
    raise typer.Exit(_exit_code(result))


def _streams(names: list[str]) -> Iterator[tuple[LineSource, str]]:
    """Each input in turn, opened when its turn comes and closed after it."""
    for name in names:
        if name == STDIN:
            yield sys.stdin.buffer, "stdin"
            continue
        path = Path(name)
        if name.endswith(".gz"):
            with gzip.open(path, "rb") as compressed:
                yield compressed, path.name
        else:
            with path.open("rb") as plain:
                yield plain, path.name


def _exit_code(result: LogReview) -> ExitCode:
    worst = result.worst
    if worst is not None and LEVELS[worst] >= LEVELS["ERROR"]:
        return ExitCode.CRITICAL
    if worst is not None and LEVELS[worst] >= LEVELS["WARNING"]:
        return ExitCode.WARNING
    if not result.records:
        # nothing the app wrote: an empty input (a misspelt compose service prints nothing), the wrong
        # file, or logs that are not JSON; never "all clear"
        return ExitCode.WARNING
    return ExitCode.OK


def _human(result: LogReview) -> list[str]:
    skipped = result.not_json + result.not_a_record + result.too_long + result.read_errors
    lines = [
        f"{result.matched} record(s) at {result.level} or above since {result.since.isoformat()}, "
        f"in {len(result.events())} event(s); {result.lines} line(s) read, {result.records} log record(s)"
        + (f", {skipped} line(s) skipped" if skipped else "")
    ]
    if not result.lines:
        lines.append(
            "[yellow]no line was read: is the file, or the service or unit name, right? "
            "(`docker compose logs` prints nothing for a service it does not know)[/yellow]"
        )
    elif not result.records:
        lines.append("[yellow]no line was a log record of the app: is this its log?[/yellow]")
    for group in result.events():
        example = group.latest
        shown = orjson.dumps({name: value for name, value in example.items() if name != "exception"}).decode()
        if len(shown) > _HUMAN_EXAMPLE:
            shown = shown[: _HUMAN_EXAMPLE - 1] + "…"
        first = group.first.isoformat(timespec="milliseconds") if group.first else "-"
        last = group.last.isoformat(timespec="milliseconds") if group.last else "-"
        lines.append(
            f"[bold]{group.level}[/bold] {escape(group.event)} ×{group.count} first {first} last {last} "
            f"from {escape(', '.join(sorted(group.sources)))}"
        )
        lines.append(f"    latest: {escape(shown)}")
        exception = example.get("exception")
        if isinstance(exception, str) and exception.strip():
            lines.append(f"    exception: {escape(exception_headline(exception))}")
    lines.extend(
        f"skipped {escape(item.source)}:{item.line} ({item.reason}): {escape(item.text)}"
        for item in result.unreadable_examples
    )
    return lines
