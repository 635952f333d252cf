"""``marketplace serve --workers 2``: every scrape, whichever process answers it, counts the requests of both.

A real server in a subprocess on a free loopback port; bounded loops, no timing assertions.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketplace.observability import names
from tests.support.metrics import samples, value

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
MAX_REQUESTS = 2000  # until both server processes have answered some; far more than needed


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310  loopback http only
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


def _marketplace(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "marketplace.cli.main", *arguments]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    data = tmp_path / "data"
    metrics_dir = data / "metrics"
    metrics_dir.mkdir(parents=True)
    # Left by an earlier run: a metric file of a process long gone (unreadable), and a file that is not ours.
    (metrics_dir / "counter_999999.db").write_bytes(b"\x00garbage from an old run")
    (metrics_dir / "notes.txt").write_text("not a metric file")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MARKETPLACE_", "PROMETHEUS_"))}
    env.update(
        {"MARKETPLACE_ENV": "development", "MARKETPLACE_DATA_DIR": str(data), "MARKETPLACE_LOG_LEVEL": "WARNING"}
    )
    subprocess.run(_marketplace("db", "upgrade"), env=env, check=True, capture_output=True)
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        _marketplace("serve", "--workers", "2", "--port", str(port)), env=env, stdout=log, stderr=log
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, f"marketplace serve exited: {(tmp_path / 'serve.log').read_text()}"
            try:
                if _get(f"{base_url}/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "marketplace serve did not answer /health within 60 s"
            time.sleep(0.2)
        yield base_url, metrics_dir, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def _pids_with_counters(metrics_dir: Path) -> set[str]:
    return {m.group(1) for path in metrics_dir.iterdir() if (m := re.fullmatch(r"counter_(\d+)\.db", path.name))}


def test_two_server_processes_are_scraped_as_one(server: tuple[str, Path, subprocess.Popen[bytes]]) -> None:
    base_url, metrics_dir, process = server
    assert not (metrics_dir / "counter_999999.db").exists()  # emptied at start ...
    assert (metrics_dir / "notes.txt").exists()  # ... of metric files only

    # /health was asked while waiting for the start: count from the first scrape.
    health = {"route": "/health", "method": "GET", "status_class": "2xx"}
    start = value(_get(f"{base_url}/metrics")[1], names.HTTP_REQUESTS, **health)
    sent = 0
    while len(_pids_with_counters(metrics_dir)) < 2 and sent < MAX_REQUESTS:
        assert _get(f"{base_url}/health")[0] == 200  # a new connection each: the kernel picks a process
        sent += 1
    for _ in range(10):
        assert _get(f"{base_url}/health")[0] == 200
        sent += 1
    assert len(_pids_with_counters(metrics_dir)) == 2, f"one process answered all {sent} requests"

    for _ in range(6):  # each scrape is answered by either process: every one sums both
        text = _get(f"{base_url}/metrics")[1]
        assert value(text, names.HTTP_REQUESTS, **health) == start + sent
        assert value(text, names.HTTP_DURATION + "_count", route="/health", method="GET") == start + sent
    build_info = [labels for (name, labels) in samples(text) if name == names.BUILD_INFO]
    assert len(build_info) == 1  # one series, not one per process id
    assert dict(build_info[0])["process"] == "web"

    process.send_signal(signal.SIGTERM)
    process.wait(timeout=STOP_TIMEOUT_S)
    # A clean stop marks each process dead: its live gauge (build info) leaves the directory.
    assert not list(metrics_dir.glob("gauge_livemax_*.db"))
