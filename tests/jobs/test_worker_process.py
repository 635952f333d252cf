"""``marketplace worker`` as a real process: SIGTERM stops it cleanly, kill -9 loses no job and doubles no effect.

The process runs the real command with test handlers (``tests/jobs/worker_process.py``); each
test waits for the handler to have started (a file it touches), then signals the process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.jobs import queue
from marketplace.jobs.models import JobState
from marketplace.jobs.worker import RunResult, Worker
from marketplace.logs import request_id_var
from tests.conftest import TEST_SECRET_KEY
from tests.jobs.conftest import add_job, read_job
from tests.jobs.worker_process import SCRATCH_TABLES, effect

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 60.0
LEASE_SECONDS = 30


@pytest.fixture
def scratch(database: Database) -> Database:
    with database.engine.begin() as connection:
        for statement in SCRATCH_TABLES:
            connection.execute(text(statement))
    return database


class WorkerProcess:
    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    def wait_for(self, path: Path) -> None:
        """Until ``path`` exists (the handler started); fails naming the log if the process ends or hangs first."""
        deadline = time.monotonic() + WAIT_S
        while not path.exists():
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited ({self.process.returncode}) before the job started:\n{self.text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the job did not start within {WAIT_S} s:\n{self.text()}")
            time.sleep(0.02)

    def exit_code(self) -> int:
        try:
            return self.process.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker did not exit within {WAIT_S} s:\n{self.text()}")

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text().splitlines() if line.startswith("{")]


@pytest.fixture
def start_worker(database_url: str, tmp_path: Path) -> Iterator[Any]:
    started: list[WorkerProcess] = []

    def start(**settings: str) -> WorkerProcess:
        env = {name: value for name, value in os.environ.items() if not name.startswith("MARKETPLACE_")}
        env.update(
            MARKETPLACE_ENV="production",
            MARKETPLACE_SECRET_KEY=TEST_SECRET_KEY,
            MARKETPLACE_DATABASE_URL=database_url,
            MARKETPLACE_DATA_DIR=str(tmp_path / "worker-data"),
            MARKETPLACE_WORKER_POLL_SECONDS="0.05",
            MARKETPLACE_WORKER_LEASE_SECONDS=str(LEASE_SECONDS),
            **{f"MARKETPLACE_{name.upper()}": value for name, value in settings.items()},
        )
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.jobs.worker_process", "worker", "--worker-id", "proc-1"],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        started.append(WorkerProcess(process, log))
        return started[-1]

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(WAIT_S)


def _runs(database: Database) -> list[tuple[int, int]]:
    with database.engine.connect() as connection:
        return [
            (job, attempts) for job, attempts in connection.execute(text("SELECT job_id, attempts FROM scratch_runs"))
        ]


def _effects(database: Database) -> list[int]:
    with database.engine.connect() as connection:
        return list(connection.execute(text("SELECT job_id FROM scratch_effects")).scalars())


def test_sigterm_lets_the_running_step_finish_then_the_worker_exits_0(
    scratch: Database, start_worker: Any, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    token = request_id_var.set("req-from-the-web")  # as if a web request had enqueued it
    try:
        job_id = add_job(scratch, "effect", order_id="order-1", payload={"mode": "until_stop", "started": str(started)})
    finally:
        request_id_var.reset(token)
    worker = start_worker(worker_stop_grace_seconds="60")
    worker.wait_for(started)

    worker.process.send_signal(signal.SIGTERM)

    assert worker.exit_code() == 0, worker.text()
    job = read_job(scratch, job_id)
    assert (job.state, job.attempts, job.lease_expires_at) == (JobState.DONE, 0, None)
    assert _effects(scratch) == [job_id]
    finished = [event for event in worker.events() if event["event"] in ("job_started", "job_finished")]
    assert [(event["event"], event["job_id"], event["kind"], event["order_id"]) for event in finished] == [
        ("job_started", job_id, "effect", "order-1"),
        ("job_finished", job_id, "effect", "order-1"),
    ]
    assert finished[1]["result"] == "done"
    # The worker's own lines carry no request id; the job's carry the one it was enqueued under.
    assert [event.get("request_id") for event in finished] == ["req-from-the-web", "req-from-the-web"]
    stopping = [event for event in worker.events() if event["event"] == "worker_stopping"]
    assert [(event["signal"], event.get("request_id")) for event in stopping] == [("SIGTERM", None)]


def test_sigterm_gives_back_a_step_that_outlasts_the_grace_period(
    scratch: Database, start_worker: Any, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    job_id = add_job(scratch, "effect", order_id="order-1", payload={"mode": "stuck", "started": str(started)})
    worker = start_worker(worker_stop_grace_seconds="0.5")
    worker.wait_for(started)

    worker.process.send_signal(signal.SIGTERM)

    assert worker.exit_code() == 0, worker.text()
    job = read_job(scratch, job_id)
    assert (job.state, job.attempts, job.claimed_by, job.lease_expires_at) == (JobState.QUEUED, 0, None, None)
    assert [event["result"] for event in worker.events() if event["event"] == "job_finished"] == ["released"]
    again = queue.claim(scratch, "next", lease_seconds=LEASE_SECONDS, now=utcnow())  # due at once, not after a lease
    assert again is not None
    assert again.id == job_id


def test_after_kill_9_the_job_is_claimed_again_once_its_lease_expires_and_its_effect_happens_once(
    scratch: Database, start_worker: Any, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    job_id = add_job(
        scratch, "effect", order_id="order-1", payload={"mode": "stuck_first_run", "started": str(started)}
    )
    worker = start_worker()
    worker.wait_for(started)

    worker.process.send_signal(signal.SIGKILL)
    assert worker.exit_code() == -signal.SIGKILL
    stranded = read_job(scratch, job_id)
    assert (stranded.state, stranded.claimed_by) == (JobState.RUNNING, "proc-1")

    during_lease = Worker(scratch, {"effect": effect}, worker_id="w2", lease_seconds=LEASE_SECONDS).run_once()
    after = utcnow() + timedelta(seconds=LEASE_SECONDS + 1)
    rerun = Worker(
        scratch, {"effect": effect}, worker_id="w2", lease_seconds=LEASE_SECONDS, clock=lambda: after
    ).run_once()

    assert during_lease is None
    assert rerun is not None
    assert (rerun.job_id, rerun.result) == (job_id, RunResult.DONE)
    job = read_job(scratch, job_id)
    assert (job.state, job.claimed_by, job.attempts) == (JobState.DONE, "w2", 1)
    assert _runs(scratch) == [(job_id, 0), (job_id, 1)]  # two runs, the second knowing it is a rerun
    assert _effects(scratch) == [job_id]  # one effect
