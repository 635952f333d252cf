"""JSON-lines logging with a request id that follows the work.

Each record is one JSON object: ``time``, ``level``, ``event``, ``request_id`` (when inside a
request) and the record's extra fields. Fields named like secrets are dropped, so a password,
token or key can never reach the log even by mistake. No string in a line carries a terminal
escape sequence or a control character (uvicorn's ``color_message`` field is dropped, colour
codes in any text are removed), so reading the log in a terminal cannot be hijacked by it.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "taskName"}
_SECRET_WORDS = ("password", "secret", "token", "totp", "recovery", "cookie", "authorization", "key")
# Extra fields that only repeat another field in a form meant for a terminal.
_DROPPED_FIELDS = frozenset({"color_message"})

# ECMA-48 escape sequences: CSI (colours, cursor moves; 7-bit and 8-bit), OSC (titles, links), others.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]"
)
# What is left of the C0 and C1 control characters (and DEL): tab, newline and carriage return
# become a space, the rest disappear. A traceback keeps its newlines.
_WHITESPACE_CONTROLS = {ord(char): " " for char in "\t\n\r"}
# Bidirectional formatting characters: a terminal would show the text after them reordered
# (a decoded request path "/\u202egpj.exe" reads as "/exe.jpg").
_BIDI_CONTROLS = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_CONTROLS: dict[int, str | None] = (
    dict.fromkeys([*range(0x20), *range(0x7F, 0xA0), *_BIDI_CONTROLS]) | _WHITESPACE_CONTROLS
)
_CONTROLS_KEEPING_NEWLINES = _CONTROLS | {ord("\n"): "\n"}


@functools.lru_cache(maxsize=4096)  # field names come from the code: a few dozen
def is_secret_field(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def plain_text(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` without escape sequences, control or bidirectional formatting characters (newlines kept if asked)."""
    if text.isprintable():  # the common case, and exact: every escape sequence starts with a control
        return text
    return _ESCAPE_SEQUENCE.sub("", text).translate(_CONTROLS_KEEPING_NEWLINES if keep_newlines else _CONTROLS)


def _plain_value(value: Any) -> Any:
    """Every string in ``value``, however nested in dicts, lists and tuples, as :func:`plain_text`."""
    kind = type(value)
    if kind is str:  # the common cases first, without a call: this runs for every field of every line
        return value if value.isprintable() else plain_text(value)
    if kind is int or kind is float or kind is bool or value is None:
        return value
    if isinstance(value, str):
        return plain_text(value)
    if isinstance(value, dict):
        return {_plain_value(key): _plain_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_value(item) for item in value]
    return value


def _plain_str(value: object) -> str:
    """What a value orjson cannot encode becomes: its ``str()``, plain."""
    return plain_text(str(value))


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "event": record.getMessage(),
            "logger": record.name,
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for name, value in vars(record).items():
            if name in _STANDARD_ATTRS or name in _DROPPED_FIELDS or name.startswith("_"):
                continue
            entry[name] = "[redacted]" if is_secret_field(name) else value
        entry = _plain_value(entry)
        if record.exc_info:
            entry["exception"] = plain_text(self.formatException(record.exc_info), keep_newlines=True)
        return orjson.dumps(entry, default=_plain_str).decode()


def _stamp_request_id(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    """Wrap a log record factory so that each record keeps the request id current when it was made."""

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        request_id = request_id_var.get()
        if request_id is not None:
            record.request_id = request_id
        return record

    make.stamps_request_id = True  # type: ignore[attr-defined]
    return make


class _StandardErrorHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a record is emitted.

    A handler bound to the stream at configuration time would keep writing to a stream that a
    test runner (click's ``CliRunner``, pytest's capture) has since replaced and closed.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _stream: TextIO) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


def set_log_level(level: str) -> None:
    """Log records at ``level`` (DEBUG, INFO, …) and above; raises ``ValueError`` for an unknown level."""
    logging.getLogger().setLevel(level.upper())


def configure_logging(level: str = "INFO") -> None:
    """Send every log record, ours and our libraries', to stderr as JSON lines (safe to call again)."""
    # A record carries its request id from birth: formatted later or elsewhere, it still has it.
    if not getattr(logging.getLogRecordFactory(), "stamps_request_id", False):
        logging.setLogRecordFactory(_stamp_request_id(logging.getLogRecordFactory()))
    # Nothing in a line says which source line, thread or process made it: do not collect them
    # (the logging documentation's "Optimization" section; a stack walk per record otherwise).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = _StandardErrorHandler()
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    set_log_level(level)
    # The servers' own access logs would duplicate ours (and cost ~30% throughput).
    for name in ("uvicorn.access", "granian.access"):
        logging.getLogger(name).disabled = True
    for name in ("uvicorn", "uvicorn.error", "granian"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The HTTP client logs every request at INFO: the worker's wallet and daemon calls would flood
    # the log (its warnings still come through; our own records say what a job did).
    for name in ("httpx2", "httpcore2"):
        logging.getLogger(name).setLevel(logging.WARNING)
