"""``marketplace logs``: the runbook's log review, on lines the app really writes, as files or as
``docker compose logs`` and journald show them, and on hostile lines."""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from marketplace.cli.exit_codes import ExitCode
from marketplace.logs import JsonLineFormatter, request_id_var
from marketplace.observability.log_review import MAX_EVENTS, MAX_LINE_BYTES, OTHER_EVENTS, review
from tests.cli.conftest import Run

NOW = datetime.now(UTC).replace(microsecond=0)  # whole seconds: times compare exactly


def _ms(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def app_line(
    event: str, level: str = "WARNING", *, ago: timedelta, request_id: str | None = None, **fields: Any
) -> str:
    """A log line exactly as the app writes it (the app's formatter), ``ago`` before now."""
    record = logging.LogRecord("marketplace.worker", logging.getLevelName(level), __file__, 1, event, None, None)
    record.created = (NOW - ago).timestamp()
    record.__dict__.update(fields)
    token = request_id_var.set(request_id)
    try:
        return JsonLineFormatter().format(record)
    finally:
        request_id_var.reset(token)


def _write(path: Path, *lines: str | bytes) -> Path:
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines))
    return path


def _report(result: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_warnings_and_errors_are_summarised_by_event_with_counts_times_and_the_latest_example(
    run: Run, tmp_path: Path
) -> None:
    log = _write(
        tmp_path / "marketplace.log",
        app_line("job_finished", "ERROR", ago=timedelta(hours=3), job_id=1, result="failed"),  # before --since
        app_line("job_finished", "ERROR", ago=timedelta(minutes=50), job_id=2, result="failed", error="RpcError: a"),
        app_line("http_request", "INFO", ago=timedelta(minutes=45), status=200, path="/"),  # below --level
        app_line("dependency_down", "WARNING", ago=timedelta(minutes=40), dependency="monerod"),
        app_line("job_finished", "WARNING", ago=timedelta(minutes=30), job_id=3, result="retry"),
        app_line("job_finished", "ERROR", ago=timedelta(minutes=20), request_id="req-9", job_id=4, error="RpcError: b"),
        app_line("dependency_down", "WARNING", ago=timedelta(minutes=10), dependency="signer:buyer"),
    )

    listed = run("logs", str(log), "--since", "1h", "--json")
    text = run("logs", str(log), "--since", "1h")

    assert listed.exit_code == ExitCode.CRITICAL, listed.output  # errors among them
    report = _report(listed)
    assert (report["lines"], report["records"], report["matched"], report["worst"]) == (7, 7, 5, "ERROR")
    assert [(event["level"], event["event"], event["count"]) for event in report["events"]] == [
        ("ERROR", "job_finished", 2),
        ("WARNING", "dependency_down", 2),
        ("WARNING", "job_finished", 1),
    ]
    errors = report["events"][0]
    assert (errors["first"], errors["last"]) == (_ms(NOW - timedelta(minutes=50)), _ms(NOW - timedelta(minutes=20)))
    assert errors["sources"] == ["marketplace.log"]
    # The latest example, as logged: its request id leads to the jobs of that request.
    assert (errors["latest"]["job_id"], errors["latest"]["error"], errors["latest"]["request_id"]) == (
        4,
        "RpcError: b",
        "req-9",
    )
    assert report["events"][1]["latest"]["dependency"] == "signer:buyer"
    assert text.exit_code == ExitCode.CRITICAL
    first = text.stdout.splitlines()[0]
    assert first.startswith("5 record(s) at WARNING or above since ")
    assert "ERROR job_finished ×2 first " in text.stdout
    assert '"error":"RpcError: b"' in text.stdout


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ((), ExitCode.OK),
        (("INFO",), ExitCode.OK),
        (("INFO", "WARNING"), ExitCode.WARNING),
        (("WARNING", "ERROR"), ExitCode.CRITICAL),
        (("CRITICAL",), ExitCode.CRITICAL),
    ],
)
def test_the_exit_code_says_whether_warnings_or_errors_were_found(
    run: Run, tmp_path: Path, levels: tuple[str, ...], expected: ExitCode
) -> None:
    lines = [app_line("worker_started", "INFO", ago=timedelta(minutes=5))]
    lines += [app_line(f"something_{level.lower()}", level, ago=timedelta(minutes=1)) for level in levels]
    log = _write(tmp_path / "app.log", *lines)

    assert run("logs", str(log)).exit_code == expected
    # At --level ERROR, a warning is no longer a finding.
    assert run("logs", str(log), "--level", "error").exit_code == (
        ExitCode.OK if expected == ExitCode.WARNING else expected
    )


def test_lines_from_docker_compose_and_journald_are_read_from_standard_input(run: Run) -> None:
    lines = [
        "web-1     | " + app_line("http_request", "ERROR", ago=timedelta(minutes=3), status=500, path="/orders"),
        "worker-1  | 2026-12-01T05:00:00.123456789Z "
        + app_line("job_finished", "ERROR", ago=timedelta(minutes=2), job_id=7),
        'nginx-1   | 127.0.0.1 - - [01/Dec/2026:05:00:00 +0000] "GET / HTTP/1.1" 200 512',
        "monerod-1 | 2026-12-01 05:00:00.000 I Synced 100/100",
        "Dec 01 05:00:00 shop marketplace-worker[4242]: "
        + app_line("job_finished", "ERROR", ago=timedelta(minutes=1), job_id=8),
        "Dec  1 05:00:01 shop marketplace-web[17]: "
        + app_line("dependency_down", "WARNING", ago=timedelta(minutes=1), dependency="monerod"),
    ]
    piped = "\n".join(lines) + "\n"

    from_dash = run("logs", "-", "--json", input=piped)
    from_nothing = run("logs", "--json", input=piped)

    assert from_dash.exit_code == ExitCode.CRITICAL, from_dash.output
    report = _report(from_dash)
    assert {**report, "since": None} == {**_report(from_nothing), "since": None}
    assert (report["lines"], report["records"], report["skipped"]["not_json"]) == (6, 4, 2)
    events = {(event["level"], event["event"]): event for event in report["events"]}
    assert events["ERROR", "job_finished"]["count"] == 2
    assert events["ERROR", "job_finished"]["sources"] == ["marketplace-worker", "worker-1"]
    assert events["ERROR", "job_finished"]["latest"]["job_id"] == 8
    assert events["ERROR", "http_request"]["sources"] == ["web-1"]
    assert events["WARNING", "dependency_down"]["sources"] == ["marketplace-web"]
    assert [(item["line"], item["reason"]) for item in report["skipped_examples"]] == [
        (3, "not_json"),
        (4, "not_json"),
    ]


def test_since_takes_a_duration_or_an_iso_time_and_refuses_anything_else(run: Run, tmp_path: Path) -> None:
    log = _write(
        tmp_path / "app.log",
        app_line("old_warning", ago=timedelta(days=3)),
        app_line("recent_warning", ago=timedelta(hours=2)),
        app_line("fresh_warning", ago=timedelta(minutes=10)),
    )

    def events(*since: str) -> list[str]:
        result = run("logs", str(log), "--json", *since)
        assert result.exit_code in (ExitCode.OK, ExitCode.WARNING), result.output
        return sorted(event["event"] for event in _report(result)["events"])

    assert events() == ["fresh_warning"]  # the default: the last hour
    assert events("--since", "30m") == ["fresh_warning"]
    assert events("--since", "3h") == ["fresh_warning", "recent_warning"]
    assert events("--since", "1w") == ["fresh_warning", "old_warning", "recent_warning"]
    assert events("--since", "60s") == []
    day_before = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert events("--since", day_before) == ["fresh_warning", "recent_warning"]
    naive = (NOW - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")  # read as UTC
    assert events("--since", naive) == ["fresh_warning"]
    for refused in ("yesterday", "1y", "-1h", ""):
        result = run("logs", str(log), "--since", refused, "--json")
        assert result.exit_code == ExitCode.CRITICAL, refused
        assert _report(result)["field"] == "since"


def test_a_missing_file_or_a_directory_is_refused_naming_it(run: Run, tmp_path: Path) -> None:
    for name in (str(tmp_path / "nope.log"), str(tmp_path)):
        result = run("logs", name, "--json")
        assert result.exit_code == ExitCode.CRITICAL
        assert _report(result)["field"] == "files"
        assert "is not a readable file" in _report(result)["message"]


def test_rotated_gzip_files_are_read_and_a_truncated_one_is_reported_not_fatal(run: Run, tmp_path: Path) -> None:
    rotated = tmp_path / "marketplace.log.1.gz"
    rotated.write_bytes(gzip.compress((app_line("job_finished", "ERROR", ago=timedelta(minutes=9)) + "\n").encode()))
    cut = tmp_path / "marketplace.log.2.gz"
    many = "".join(app_line("lease_renewal_failed", ago=timedelta(minutes=8)) + "\n" for _ in range(200))
    cut.write_bytes(gzip.compress(many.encode())[:-40])  # the end of the stream is missing
    current = _write(tmp_path / "marketplace.log", app_line("dependency_down", ago=timedelta(minutes=1)))

    result = run("logs", str(rotated), str(cut), str(current), "--json")

    assert result.exit_code == ExitCode.CRITICAL, result.output
    report = _report(result)
    assert {event["event"] for event in report["events"]} == {"job_finished", "lease_renewal_failed", "dependency_down"}
    assert report["skipped"]["read_errors"] == 1
    assert [(item["source"], item["reason"]) for item in report["skipped_examples"]] == [
        ("marketplace.log.2.gz", "read_error")
    ]


def test_hostile_lines_are_counted_or_made_plain_and_never_stop_the_review(run: Run, tmp_path: Path) -> None:
    escape = "\x1b]0;pwned\x07\x1b[2J\x1b[31m"
    nested: Any = "bottom"
    for _ in range(50):
        nested = {"inner": nested}
    too_deep = "[" * 5000 + "]" * 5000  # deeper than any JSON parser nests
    log = _write(
        tmp_path / "hostile.log",
        app_line(f"{escape}job_finished\r\nforged", "ERROR", ago=timedelta(minutes=9), note=f"a{escape}b\x00c"),
        b"\xff\xfe invalid utf-8 \xc3\x28 "
        + app_line("invalid_bytes", ago=timedelta(minutes=8), path="/x").encode()[:-2]
        + b'\xff"}',
        b'{"time":"x","level":"ERROR","event":"' + b"A" * (10 * 1024 * 1024) + b'"}',  # a 10 MB line
        app_line("after_the_long_line", ago=timedelta(minutes=7)),
        app_line("nested", ago=timedelta(minutes=6), deep=nested, secrets={"api_key": "k-123", "ok": 1}),
        '{"time":"' + NOW.isoformat() + '","level":"ERROR","event":"x","deep":' + too_deep + "}",
        '["time", "level", "event"]',
        '{"time": "not a time", "level": "ERROR", "event": "bad_time"}',
        '{"time": "2026-12-01T05:00:00Z", "level": "LOUD", "event": "bad_level"}',
        "{",
        "",
    )

    result = run("logs", str(log), "--json")
    text = run("logs", str(log))

    assert result.exit_code == ExitCode.CRITICAL, result.output
    report = _report(result)
    assert report["lines"] == 11
    assert report["skipped"] == {"not_json": 3, "not_a_record": 2, "too_long": 1, "read_errors": 0}
    assert report["records"] == 4  # and the empty last line is no finding
    events = {event["event"]: event for event in report["events"]}
    assert set(events) == {"job_finished  forged", "invalid_bytes", "after_the_long_line", "nested"}
    assert events["job_finished  forged"]["latest"]["note"] == "abc"
    assert events["invalid_bytes"]["latest"]["path"] == "/x\ufffd"
    deep = events["nested"]["latest"]["deep"]
    assert isinstance(deep["inner"]["inner"]["inner"], str)  # flattened past four levels, cut
    assert len(deep["inner"]["inner"]["inner"]) <= 500
    assert events["nested"]["latest"]["secrets"] == "[redacted]"
    reasons = [(item["line"], item["reason"]) for item in report["skipped_examples"]]
    assert reasons[:2] == [(3, "too_long"), (6, "not_json")]
    # Nothing reaches the operator's terminal that could drive it.
    for output in (result.stdout, text.stdout):
        assert "\x1b" not in output
        assert "\x07" not in output
        assert "\x00" not in output
    assert "A" * 1000 not in result.stdout


def test_no_log_record_at_all_is_a_warning_not_silence(run: Run, tmp_path: Path) -> None:
    log = _write(tmp_path / "nginx.log", '127.0.0.1 - - "GET / HTTP/1.1" 200', "another plain line")

    result = run("logs", str(log))

    assert result.exit_code == ExitCode.WARNING
    assert "no line was a log record of the app" in result.stdout


def test_nothing_to_read_is_a_warning_not_all_clear(run: Run, tmp_path: Path) -> None:
    """`docker compose logs --since 15m wbe | marketplace logs`: compose names no such service on its
    standard error and prints nothing; the review must not answer "0 records" with exit 0."""
    empty = _write(tmp_path / "web.log")

    piped = run("logs", input="")
    named = run("logs", str(empty), "--json")

    assert piped.exit_code == ExitCode.WARNING
    assert "no line was read" in piped.stdout
    assert named.exit_code == ExitCode.WARNING
    assert _report(named)["lines"] == 0


class _EndlessLog:
    """A log far larger than memory would allow to hold, produced line by line; records each read size."""

    def __init__(self, lines: int) -> None:
        self.left = lines
        self.largest_read = 0
        self.line = (app_line("lease_renewal_failed", ago=timedelta(minutes=1), job_id=1) + "\n").encode()

    def readline(self, size: int = -1, /) -> bytes:
        self.largest_read = max(self.largest_read, size)
        if self.left == 0 or size < 0:
            return b""  # a whole-stream read is refused: the review must read line by line, bounded
        self.left -= 1
        return self.line[:size]


def test_the_review_streams_its_input_a_bounded_line_at_a_time() -> None:
    source = _EndlessLog(200_000)

    result = review([(source, "endless")], since=NOW - timedelta(hours=1), level="WARNING")

    assert (result.lines, result.matched) == (200_000, 200_000)
    assert [(event.event, event.count) for event in result.events()] == [("lease_renewal_failed", 200_000)]
    assert 0 < source.largest_read <= MAX_LINE_BYTES + 1


def test_without_files_on_a_terminal_it_says_what_to_give_instead_of_waiting(tmp_path: Path) -> None:
    controller, terminal = os.openpty()
    try:
        process = subprocess.run(
            [str(Path(sys.executable).parent / "marketplace"), "logs", "--json"],
            stdin=terminal,
            capture_output=True,
            timeout=120,  # a bound on a failure (it would wait for input for ever), not a timing assertion
            check=False,
            cwd=tmp_path,
        )
    finally:
        os.close(terminal)
        os.close(controller)

    assert process.returncode == ExitCode.CRITICAL, process.stderr
    assert json.loads(process.stdout)["field"] == "files"


def test_a_flood_of_distinct_events_is_counted_within_a_bounded_report() -> None:
    lines = b"".join(
        (app_line(f"event_{number}_{'x' * (number % 3) * 400}", ago=timedelta(minutes=1)) + "\n").encode()
        for number in range(MAX_EVENTS * 2)
    )

    result = review([(io.BytesIO(lines), "flood")], since=NOW - timedelta(hours=1), level="WARNING")

    events = result.events()
    assert result.matched == MAX_EVENTS * 2
    assert len(events) == MAX_EVENTS + 1
    assert sum(event.count for event in events) == MAX_EVENTS * 2
    assert [event.count for event in events if event.event == OTHER_EVENTS] == [MAX_EVENTS]
    assert max(len(event.event) for event in events) <= 200


def test_an_exception_is_summarised_by_its_type_and_message_not_its_last_line(run: Run, tmp_path: Path) -> None:
    """A database error's traceback ends with SQLAlchemy's "[SQL: ...]" and "(Background ...)" lines (as
    measured on the dev stack with the SQLite file locked): the summary names the error itself."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    engine = create_engine("sqlite://")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT no_such_column FROM " + "x" * 3000))  # a long statement
    except OperationalError:
        record = logging.LogRecord(
            "marketplace.worker", logging.ERROR, __file__, 1, "worker_error", None, sys.exc_info()
        )
    engine.dispose()
    record.created = (NOW - timedelta(minutes=1)).timestamp()
    log = _write(tmp_path / "worker.log", JsonLineFormatter().format(record))

    text_report = run("logs", str(log))
    json_report = _report(run("logs", str(log), "--json"))

    headline = "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) no such table: " + "x" * 3000
    assert text_report.exit_code == ExitCode.CRITICAL
    assert "    exception: sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) no such table: xxx" in (
        text_report.stdout.replace("\n", "")
    )
    assert "Background on this error" not in text_report.stdout
    assert json_report["events"][0]["latest"]["exception"].startswith(headline[:200])
