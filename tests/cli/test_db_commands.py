"""``marketplace db``: what an operator sees when migrating."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketplace.db.migrate import head_revision
from tests.cli.conftest import Run

HEAD = head_revision()


def test_upgrade_creates_the_sqlite_database_in_the_data_dir(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data_dir = tmp_path / "fresh"
    monkeypatch.setenv("MARKETPLACE_ENV", "development")
    monkeypatch.setenv("MARKETPLACE_DATA_DIR", str(data_dir))

    before = run("db", "current")
    upgraded = run("db", "upgrade")
    after = run("db", "current")
    again = run("db", "upgrade")

    assert before.exit_code == 1
    assert "database: empty" in before.stdout
    assert "marketplace db upgrade" in before.stdout
    assert upgraded.exit_code == 0, upgraded.output
    assert "(was empty)" in upgraded.stdout
    assert (data_dir / "marketplace.sqlite3").is_file()
    assert after.exit_code == 0, after.output
    assert f"database: {HEAD}" in after.stdout
    assert "run `marketplace db upgrade`" not in after.stdout
    assert again.exit_code == 0
    assert f"(was {HEAD})" in again.stdout


def test_upgrade_is_safe_to_run_again_on_either_database(run: Run, production_env: str) -> None:
    upgraded = run("db", "upgrade")
    current = run("db", "current")

    assert upgraded.exit_code == 0, upgraded.output
    assert f"database at revision {HEAD} (was {HEAD})" in upgraded.stdout
    assert current.exit_code == 0
    assert f"database: {HEAD}; code: {HEAD}" in current.stdout
