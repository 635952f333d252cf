"""How a failed command ends: exit code 2 (critical) and a message, never exit 1, never silence."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from marketplace.cli.errors import MarketplaceGroup
from tests.cli.conftest import Run, log_records

UNREACHABLE_DATABASE = "postgresql://marketplace@127.0.0.1:9/marketplace"  # the discard port: refused at once


@pytest.mark.usefixtures("development_data_dir")
def test_an_unknown_revision_is_refused_and_nothing_is_migrated(run: Run) -> None:
    refused = run("db", "upgrade", "no-such-revision")
    current = run("db", "current")

    assert refused.exit_code == 2
    assert "revision: Can't locate revision identified by 'no-such-revision'" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert current.exit_code == 1
    assert "database: empty" in current.stdout


@pytest.mark.usefixtures("development_data_dir")
def test_an_unexpected_failure_is_critical_and_its_traceback_is_logged(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARKETPLACE_DATABASE_URL", UNREACHABLE_DATABASE)

    result = run("db", "current")
    as_json = run("db", "current", "--json")

    assert result.exit_code == 2
    assert "failed unexpectedly (OperationalError)" in result.stderr
    [failure] = [record for record in log_records(result.stderr) if record["event"] == "command_failed"]
    assert failure["level"] == "CRITICAL"
    assert failure["exception"].startswith("Traceback (most recent call last):\n")
    assert "Connection refused" in failure["exception"]
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout) == {
        "error": "internal",
        "message": "The command failed unexpectedly; its traceback is logged.",
    }


def test_an_aborted_prompt_is_critical_not_a_warning() -> None:
    app = typer.Typer(cls=MarketplaceGroup)

    @app.command()
    def ask() -> None:
        typer.prompt("Password", hide_input=True)

    @app.command()
    def other() -> None:  # a group of one command would run it without its name
        pass

    result = CliRunner().invoke(app, ["ask"], input="")

    assert result.exit_code == 2
    assert "aborted" in result.stderr
