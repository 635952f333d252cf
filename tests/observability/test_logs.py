"""What an operator reads in the logs: one JSON object per line, with a request id, no secrets, no escape codes."""

from __future__ import annotations

import json
import logging
import sys

from marketplace.logs import JsonLineFormatter, request_id_var


def _format(record: logging.LogRecord) -> dict[str, object]:
    line = JsonLineFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert isinstance(parsed, dict)
    return parsed


def test_a_log_line_is_one_json_object_with_time_level_event_and_request_id() -> None:
    token = request_id_var.set("req-123")
    try:
        record = logging.makeLogRecord(
            {"name": "marketplace.test", "levelno": 30, "levelname": "WARNING", "msg": "disk_low"}
        )
        entry = _format(record)
    finally:
        request_id_var.reset(token)
    assert entry["level"] == "WARNING"
    assert entry["event"] == "disk_low"
    assert entry["request_id"] == "req-123"
    assert str(entry["time"]).endswith("+00:00")


def test_fields_named_like_secrets_are_redacted() -> None:
    record = logging.makeLogRecord(
        {
            "name": "marketplace.test",
            "levelno": 20,
            "levelname": "INFO",
            "msg": "signed_in",
            "password": "hunter2-hunter2",
            "api_token": "mpt_abcdef",
            "username": "alice",
        }
    )
    entry = _format(record)
    assert entry["username"] == "alice"
    assert entry["password"] == "[redacted]"
    assert entry["api_token"] == "[redacted]"
    assert "hunter2" not in json.dumps(entry)


def test_no_terminal_escape_or_control_character_reaches_a_log_line() -> None:
    """uvicorn's ``color_message`` is dropped; colours and controls are removed from every string."""
    try:
        raise ValueError("\x1b[31mboom\x1b[0m")  # noqa: TRY301  (a real traceback to format)
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.makeLogRecord(
        {
            "name": "uvicorn.error",
            "levelno": 20,
            "levelname": "INFO",
            "msg": "Started \x1b[31mserver\x1b[0m %s",
            "args": ("\x1b]0;new window title\x07process\x07 [42]",),
            "color_message": "Started \x1b[36mserver\x1b[0m process [%d]",
            "path": "/listings\x1b[2J\r\n\x9b1m",
            "detail": {"client\x1b[1m": ["\x1b[32mok\x1b[0m", 3]},
            "exc_info": exc_info,
        }
    )

    line = JsonLineFormatter().format(record)
    entry = json.loads(line)

    assert "color_message" not in entry
    assert entry["event"] == "Started server process [42]"
    assert entry["path"] == "/listings  "
    assert entry["detail"] == {"client": ["ok", 3]}
    assert entry["exception"].startswith("Traceback (most recent call last):\n")  # a traceback keeps its lines
    assert entry["exception"].endswith("ValueError: boom")
    texts = [*_strings(entry), entry["exception"].replace("\n", "")]
    assert not [text for text in texts if any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in text)]


def _strings(value: object) -> list[str]:
    """Every string in a parsed log line (keys included), except the exception text."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() if key != "exception" for text in [key, *_strings(item)]]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def test_no_bidirectional_override_reaches_a_log_line_or_the_review() -> None:
    """A request path is decoded before it is logged: ``/%E2%80%AE...`` puts U+202E (right-to-left
    override) in the ``path`` field, and a terminal showing the line (``marketplace logs``, ``less``)
    would display what follows it reversed: ``/gpj.exe`` reads as ``/exe.jpg``."""
    from marketplace.observability.log_review import example

    bidi = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    record = logging.makeLogRecord(
        {
            "name": "marketplace.http",
            "levelno": 30,
            "levelname": "WARNING",
            "msg": "http_request",
            "path": f"/{bidi}gpj.exe",
        }
    )

    entry = json.loads(JsonLineFormatter().format(record))
    shown = example({"time": "2026-12-01T05:00:00Z", "level": "ERROR", "event": f"x{bidi}y", "path": f"/{bidi}a"})

    assert entry["path"] == "/gpj.exe"
    assert (shown["event"], shown["path"]) == ("xy", "/a")
