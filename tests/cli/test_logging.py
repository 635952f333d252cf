"""Every command logs like the web app: JSON lines on standard error, at the configured level."""

from __future__ import annotations

import json
import logging

import pytest

from marketplace.logs import configure_logging
from tests.cli.conftest import Run


@pytest.mark.usefixtures("development_data_dir")
def test_records_emitted_during_a_command_are_json_lines_on_stderr(run: Run) -> None:
    result = run("db", "upgrade")

    assert result.exit_code == 0, result.output
    assert "database at revision" in result.stdout  # the human report stays on stdout
    records = [json.loads(line) for line in result.stderr.splitlines()]  # every line of stderr is JSON
    migrations = [record for record in records if record["event"].startswith("Running upgrade")]
    assert migrations, result.stderr
    assert {record["logger"] for record in migrations} == {"alembic.runtime.migration"}
    assert {record["level"] for record in migrations} == {"INFO"}
    assert "{" not in result.stdout


@pytest.mark.usefixtures("development_data_dir")
def test_the_log_level_setting_applies_to_commands(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETPLACE_LOG_LEVEL", "WARNING")

    result = run("db", "upgrade")

    assert result.exit_code == 0, result.output
    assert result.stderr == ""


@pytest.mark.usefixtures("development_data_dir")
def test_an_unknown_log_level_is_a_configuration_error(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETPLACE_LOG_LEVEL", "LOUD")

    result = run("db", "current")

    assert result.exit_code == 2
    assert "configuration error: log_level:" in result.stderr
    assert "LOUD" not in result.stdout


def test_the_http_client_logs_only_its_warnings_so_wallet_calls_do_not_flood_the_log(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    logging.getLogger("httpx2").info('HTTP Request: POST http://127.0.0.1:1/json_rpc "HTTP/1.1 200 Ok"')
    logging.getLogger("httpx2").warning("connection pool is full")
    logging.getLogger("marketplace.worker").info("job_finished")

    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()]
    assert events == ["connection pool is full", "job_finished"]
