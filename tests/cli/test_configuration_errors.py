"""Insecure or invalid settings stop every command with a readable message and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Run


@pytest.mark.parametrize(
    ("secret", "complaint"),
    [(None, "missing or a placeholder"), ("changeme", "missing or a placeholder"), ("too-short", "too short")],
)
def test_serve_refuses_insecure_production_settings(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, secret: str | None, complaint: str
) -> None:
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    monkeypatch.setenv("MARKETPLACE_DATA_DIR", str(tmp_path))
    if secret is not None:
        monkeypatch.setenv("MARKETPLACE_SECRET_KEY", secret)

    result = run("serve")

    assert result.exit_code == 2
    assert "configuration error" in result.stderr
    assert complaint in result.stderr
    assert "Traceback" not in result.output
    if secret:
        assert secret not in result.output


def test_an_invalid_value_names_the_setting(run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MARKETPLACE_ENV", "development")
    monkeypatch.setenv("MARKETPLACE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MARKETPLACE_NETWORK", "moonnet")

    result = run("db", "upgrade")

    assert result.exit_code == 2
    assert "configuration error" in result.stderr
    assert "network" in result.stderr
    assert not (tmp_path / "marketplace.sqlite3").exists()
