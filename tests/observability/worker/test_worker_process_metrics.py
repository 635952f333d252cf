"""``marketplace worker`` as a real process serves its metrics on its own port, and never in multiprocess mode.

The worker is started with ``PROMETHEUS_MULTIPROC_DIR`` in its environment (as a shared
environment file for web and worker would give it): it says so in its log, writes no file there,
and its /metrics shows the job it ran and what it read from the database.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from marketplace.db.engine import Database
from marketplace.observability import names
from tests.conftest import TEST_SECRET_KEY
from tests.jobs.conftest import add_job
from tests.jobs.worker_process import SCRATCH_TABLES

REPO = Path(__file__).resolve().parents[3]
WAIT_S = 60.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (item.name, tuple(sorted(item.labels.items()))): item.value
        for family in text_string_to_metric_families(body)
        for item in family.samples
    }


def test_the_worker_serves_its_metrics_and_ignores_a_multiprocess_directory(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    with database.engine.begin() as connection:
        for statement in SCRATCH_TABLES:
            connection.execute(text(statement))
    add_job(database, "effect", payload={"mode": "quick", "started": str(tmp_path / "started")})
    shared_dir = tmp_path / "web-metrics"
    shared_dir.mkdir()
    port = _free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("MARKETPLACE_")}
    env.update(
        PROMETHEUS_MULTIPROC_DIR=str(shared_dir),
        MARKETPLACE_ENV="production",
        MARKETPLACE_SECRET_KEY=TEST_SECRET_KEY,
        MARKETPLACE_DATABASE_URL=database_url,
        MARKETPLACE_DATA_DIR=str(tmp_path / "worker-data"),
        MARKETPLACE_WORKER_POLL_SECONDS="0.05",
        MARKETPLACE_WORKER_METRICS_PORT=str(port),
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.jobs.worker_process", "worker", "--worker-id", "metrics-proc"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        deadline = time.monotonic() + WAIT_S
        done = (names.JOB_RUNS, (("kind", "effect"), ("result", "done")))
        while done not in samples:
            if process.poll() is not None:
                pytest.fail(f"the worker exited ({process.returncode}):\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no job run in the worker's /metrics within {WAIT_S} s:\n{log.read_text()}")
            with contextlib.suppress(httpx2.TransportError):
                samples = _samples(httpx2.get(f"http://127.0.0.1:{port}/metrics", trust_env=False, timeout=5).text)
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT_S)

    assert samples[done] == 1
    assert samples[(names.JOB_DURATION + "_count", (("kind", "effect"),))] == 1
    assert samples[(names.ORDERS, (("state", "placed"),))] == 0
    assert samples[(names.JOBS, (("kind", "effect"), ("state", "queued")))] == 0
    assert any(name == names.BUILD_INFO and dict(labels)["process"] == "worker" for name, labels in samples)
    assert list(shared_dir.iterdir()) == []  # nothing written for the web's /metrics to pick up
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    ignored = [event for event in events if event["event"] == "metrics_multiprocess_ignored"]
    assert len(ignored) == 1
    assert str(shared_dir) not in json.dumps(ignored)
    listening = [event["url"] for event in events if event["event"] == "worker_metrics_listening"]
    assert listening == [f"http://127.0.0.1:{port}/metrics"]


def test_a_taken_metrics_port_stops_the_worker_at_start_with_a_message(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    del database  # migrated by the fixture
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {name: value for name, value in os.environ.items() if not name.startswith("MARKETPLACE_")}
        env.update(
            MARKETPLACE_ENV="production",
            MARKETPLACE_SECRET_KEY=TEST_SECRET_KEY,
            MARKETPLACE_DATABASE_URL=database_url,
            MARKETPLACE_DATA_DIR=str(tmp_path / "worker-data"),
            MARKETPLACE_WORKER_METRICS_PORT=str(port),
        )
        done = subprocess.run(
            [sys.executable, "-m", "marketplace.cli.main", "worker"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT_S,
            check=False,
        )

    assert done.returncode == 2, done.stderr
    assert f"cannot serve the worker's metrics on 127.0.0.1:{port}: Address already in use" in done.stderr
