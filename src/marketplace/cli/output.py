"""What a command prints: text and tables for people, or, with ``--json``, one JSON object.

The contract of ``--json``: standard output holds exactly one JSON object and nothing else,
whatever the outcome: the command's report, or ``{"error": CODE, "message": TEXT}`` (plus
``"field"`` when one input is at fault) when it exits CRITICAL. Log lines go to standard error.
The exit code means the same with or without ``--json``.

A command that reports takes ``json_output: JsonOutput = False`` and ends with
``report({...}, "human text", json_output=json_output)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import RenderableType

from marketplace.cli.context import console

if TYPE_CHECKING:
    from typer._click import Context  # Typer ships its own copy of click; this is its Context

_JSON_REQUESTED = "marketplace.json_output"


def _remember_json_output(ctx: typer.Context, value: bool) -> bool:
    # ``meta`` is shared by every context of one invocation: the root group reads it when a
    # command fails, to print the error the way the caller asked for.
    ctx.meta[_JSON_REQUESTED] = value
    return value


JsonOutput = Annotated[
    bool,
    typer.Option(
        "--json",
        help='Print one JSON object on standard output instead of text; an error is {"error", "message", "field"?}.',
        callback=_remember_json_output,
        is_eager=True,  # known before the other options are checked, so a usage error is JSON too
    ),
]


def json_output_requested(ctx: Context) -> bool:
    """Whether the command being run was given ``--json``."""
    return bool(ctx.meta.get(_JSON_REQUESTED, False))


def print_json(document: Mapping[str, Any]) -> None:
    """``document`` as one JSON object on standard output (not through Rich: no wrapping, no colour)."""
    typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())


def report(document: Mapping[str, Any], *human: RenderableType, json_output: bool) -> None:
    """Print the command's result: ``document`` as JSON with ``--json``, else each of ``human`` on a line.

    ``human`` items are Rich renderables: text with Rich markup, or tables.
    """
    if json_output:
        print_json(document)
        return
    for item in human:
        console.print(item, highlight=False, soft_wrap=True)
