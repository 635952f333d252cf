"""Running ``marketplace`` commands in-process, with the environment a shell would give them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from marketplace.cli.main import app
from tests.conftest import TEST_SECRET_KEY

Run = Callable[..., Result]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MARKETPLACE_* variable of the machine running the tests leaks into a command."""
    for name in list(os.environ):
        if name.startswith("MARKETPLACE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def run() -> Run:
    """``run("db", "upgrade", input="...")``: the command's result (exit code, stdout, stderr)."""

    def invoke(*args: str, input: str | None = None) -> Result:  # noqa: A002  (click's name for stdin)
        return CliRunner().invoke(app, list(args), input=input, prog_name="marketplace")

    return invoke


def log_records(stderr: str) -> list[dict[str, Any]]:
    """The JSON log lines among a command's standard error (human messages are left out)."""
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


@pytest.fixture
def development_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Development settings with a data directory that does not exist yet (an empty SQLite database)."""
    data_dir = tmp_path / "fresh"
    monkeypatch.setenv("MARKETPLACE_ENV", "development")
    monkeypatch.setenv("MARKETPLACE_DATA_DIR", str(data_dir))
    return data_dir


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> str:
    """Secure production settings pointing the commands at the test database; returns its URL."""
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    monkeypatch.setenv("MARKETPLACE_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("MARKETPLACE_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("MARKETPLACE_DATABASE_URL", database_url)
    return database_url
