"""Paths and tools of the deploy/ tests: Debian's promtool (prometheus) and amtool (prometheus-alertmanager)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def tool(name: str, package: str) -> str:
    """The binary's path; a missing one FAILS the test (never a skip): `make test` installs it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: `make test` installs Debian's {package} (apt-get install {package})")
    return path


def run(*argv: str, cwd: Path = DEPLOY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
