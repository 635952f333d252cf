"""What an operator reads in the logs: one JSON object per line, with a request id, no secrets."""

from __future__ import annotations

import json
import logging

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
