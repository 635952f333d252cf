"""The regtest cluster refuses to run without the real binaries: it fails, clearly, never skips."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.regtest import RegtestMissingError, check_binaries


def test_a_missing_monerod_fails_with_the_package_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RegtestMissingError, match=r"monerod not found on PATH: apt-get install monero"):
        check_binaries()


def test_a_monerod_of_another_version_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("monerod", "monero-wallet-rpc"):
        fake = tmp_path / name
        fake.write_text("#!/bin/sh\necho \"Monero 'Fluorine Fermi' (v0.17.3.2-release)\"\n")
        fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RegtestMissingError, match=r"v0\.17\.3\.2.*need Monero 0\.18\.x"):
        check_binaries()


def test_the_installed_binaries_are_0_18() -> None:
    paths = check_binaries()
    assert set(paths) == {"monerod", "monero-wallet-rpc"}
