"""How a ``marketplace`` command ends when it fails: the one place errors become exit codes.

Every command runs inside :meth:`MarketplaceGroup.invoke`, the root group's, which first sets up
the JSON-lines logging the web app uses (records go to standard error), then maps what the
command raised:

- a domain error (``MarketplaceError``): ``field: message`` on standard error, exit CRITICAL;
- invalid or insecure settings (``InvalidConfiguration``): ``configuration error: …``, exit CRITICAL;
- an aborted prompt, or any other error Typer would end with exit 1 (which reads as a warning): CRITICAL;
- any other exception (a bug, a database that cannot be reached): logged with its traceback
  (``command_failed``, level CRITICAL), exit CRITICAL;
- ``typer.Exit`` passes through: the command chose its exit code.

With ``--json`` the error is instead one JSON object on standard output (see ``cli.output``);
usage errors (an unknown option, a missing one) are then JSON too, else Typer prints them.
Commands therefore raise domain errors and never print them or pick an exit code for them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.markup import escape
from typer.core import TyperGroup

from marketplace.cli.context import InvalidConfiguration, err_console
from marketplace.cli.exit_codes import ExitCode
from marketplace.cli.output import json_output_requested, print_json
from marketplace.errors import MarketplaceError
from marketplace.logs import configure_logging
from marketplace.settings import Settings

if TYPE_CHECKING:
    from typer._click import Context  # Typer ships its own copy of click; this is its Context

log = logging.getLogger("marketplace.cli")

# Until a command reads its settings (which set the level), log at the settings' default level.
_DEFAULT_LOG_LEVEL = str(Settings.model_fields["log_level"].default)


class MarketplaceGroup(TyperGroup):
    """The root command group: logging set up once per run, and failures turned into exit codes."""

    def invoke(self, ctx: Context) -> Any:
        configure_logging(_DEFAULT_LOG_LEVEL)
        try:
            return super().invoke(ctx)
        except typer.Exit:
            raise
        except typer.Abort:
            _refuse(ctx, {"error": "aborted", "message": "Aborted."}, ["[red]aborted[/red]"])
        except typer.TyperException as exc:  # usage errors: a missing option, a bad value, …
            if not json_output_requested(ctx):
                exc.exit_code = ExitCode.CRITICAL  # Typer prints it with the usage line
                raise
            _refuse(ctx, _usage_error(exc), [])
        except InvalidConfiguration as exc:
            body = {"error": "configuration", "message": str(exc)}
            if len(exc.problems) == 1 and (setting := exc.problems[0][0]):
                body["field"] = setting
            _refuse(ctx, body, [f"[red]configuration error:[/red] {escape(reason)}" for reason in exc.reasons])
        except MarketplaceError as exc:
            text = f"{exc.field}: {exc.message}" if exc.field else exc.message
            _refuse(ctx, exc.to_dict(), [f"[red]{escape(text)}[/red]"])
        except Exception as exc:
            log.critical("command_failed", exc_info=True)
            body = {"error": "internal", "message": "The command failed unexpectedly; its traceback is logged."}
            human = f"the command failed unexpectedly ({type(exc).__name__}); its traceback is logged above"
            _refuse(ctx, body, [f"[red]{escape(human)}[/red]"])


def _usage_error(exc: typer.TyperException) -> dict[str, str]:
    body = {"error": "usage", "message": exc.format_message()}
    name = getattr(getattr(exc, "param", None), "name", None)
    if isinstance(name, str):
        body["field"] = name
    return body


def _refuse(ctx: Context, body: dict[str, str], human_lines: list[str]) -> NoReturn:
    """Print the error as asked (JSON on stdout, or Rich markup lines on stderr) and exit CRITICAL."""
    if json_output_requested(ctx):
        print_json(body)
    else:
        for line in human_lines:
            err_console.print(line, highlight=False, soft_wrap=True)
    raise typer.Exit(ExitCode.CRITICAL) from None
