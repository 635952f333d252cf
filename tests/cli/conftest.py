"""Running ``marketplace`` commands in-process, with the environment a shell would give them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

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


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> str:
    """Secure production settings pointing the commands at the test database; returns its URL."""
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    monkeypatch.setenv("MARKETPLACE_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("MARKETPLACE_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("MARKETPLACE_DATABASE_URL", database_url)
    return database_url
