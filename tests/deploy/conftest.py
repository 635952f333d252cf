"""Paths and tools of the deploy/ tests: Debian's promtool (prometheus) and amtool (prometheus-alertmanager)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_json(method: str, url: str, body: object = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310  a loopback URL built here
        text = response.read().decode()
    return json.loads(text) if text else None


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """Debian's Alertmanager on loopback with deploy/alertmanager/alertmanager.yml as committed; its URL.

    Nothing is delivered during a test: the receivers' hosts are placeholders and the secret files
    do not exist here (Alertmanager reads them only when it sends).
    """
    binary = tool("prometheus-alertmanager", "prometheus-alertmanager")
    port = free_port()
    log = (tmp_path / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={DEPLOY / 'alertmanager' / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):  # up to ~10 s
            if process.poll() is not None:
                pytest.fail(f"alertmanager exited: {(tmp_path / 'alertmanager.log').read_text()}")
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1).close()  # noqa: S310
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"alertmanager not ready: {(tmp_path / 'alertmanager.log').read_text()}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
