"""``--json``: what a script reads on standard output is one JSON object, and the exit code is unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marketplace import __version__
from marketplace.db.migrate import head_revision
from tests.cli.conftest import Run, log_records
from tests.support.client import SiteClient

HEAD = head_revision()
PASSWORD = "correct horse battery staple"


@pytest.mark.usefixtures("development_data_dir")
def test_db_current_and_upgrade_report_revisions(run: Run) -> None:
    behind = run("db", "current", "--json")
    upgraded = run("db", "upgrade", "--json")
    current = run("db", "current", "--json")
    again = run("db", "upgrade", "--json")

    assert behind.exit_code == 1  # warning: the schema is behind the code
    assert json.loads(behind.stdout) == {"database": None, "code": HEAD, "up_to_date": False}
    assert upgraded.exit_code == 0, upgraded.output
    assert json.loads(upgraded.stdout) == {"before": None, "after": HEAD}
    assert log_records(upgraded.stderr)  # the migration logged, on stderr only
    assert current.exit_code == 0
    assert json.loads(current.stdout) == {"database": HEAD, "code": HEAD, "up_to_date": True}
    assert again.exit_code == 0
    assert json.loads(again.stdout) == {"before": HEAD, "after": HEAD}


@pytest.mark.usefixtures("production_env")
def test_users_create_reports_the_new_account(run: Run, client: SiteClient) -> None:
    result = run("users", "create", "--username", "judge-judy", "--role", "arbiter", "--json", input=PASSWORD + "\n")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == {"id": report["id"], "username": "judge-judy", "role": "arbiter"}
    assert PASSWORD not in result.output
    client.use_token(client.api_token("judge-judy", PASSWORD))
    assert client.get("/api/v1/me").json()["id"] == report["id"]


def test_version(run: Run) -> None:
    result = run("version", "--json")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"version": __version__}
    assert run("version").stdout == f"{__version__}\n"


@pytest.mark.usefixtures("production_env")
@pytest.mark.parametrize(
    ("username", "password", "expected"),
    [
        (
            "twin",
            PASSWORD,
            {"error": "conflict", "message": "This username is taken; choose another.", "field": "username"},
        ),
        (
            "judge-dredd",
            "short",
            {"error": "invalid", "message": "The password must be at least 10 characters long.", "field": "password"},
        ),
    ],
)
def test_a_refusal_is_one_json_error_on_stdout(
    run: Run, username: str, password: str, expected: dict[str, str]
) -> None:
    assert run("users", "create", "--username", "twin", "--role", "admin", input=PASSWORD + "\n").exit_code == 0

    refused = run("users", "create", "--username", username, "--role", "arbiter", "--json", input=password + "\n")

    assert refused.exit_code == 2
    assert json.loads(refused.stdout) == expected
    assert [line for line in refused.stderr.splitlines() if not line.startswith("{")] == []  # only log lines


def test_invalid_settings_are_a_json_error(run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MARKETPLACE_ENV", "development")
    monkeypatch.setenv("MARKETPLACE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MARKETPLACE_NETWORK", "moonnet")

    result = run("db", "current", "--json")

    assert result.exit_code == 2
    error = json.loads(result.stdout)
    assert error["error"] == "configuration"
    assert error["field"] == "network"
    assert "mainnet" in error["message"]


@pytest.mark.usefixtures("production_env")
def test_a_usage_error_is_a_json_error_too(run: Run) -> None:
    result = run("users", "create", "--role", "arbiter", "--json", input=PASSWORD + "\n")

    assert result.exit_code == 2
    error = json.loads(result.stdout)
    assert error["error"] == "usage"
    assert error["field"] == "username"
    assert "--username" in error["message"]
