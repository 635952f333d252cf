"""The deploy/ tests' fixture: a real Alertmanager running the committed configuration."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.deploy import DEPLOY, free_port, tool


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
