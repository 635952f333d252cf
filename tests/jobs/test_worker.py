"""The worker in-process, on both databases: what each way a handler ends leaves on the job."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.jobs import queue
from marketplace.jobs.health import MONEROD, HealthCheck, recorded_health
from marketplace.jobs.models import JobState
from marketplace.jobs.queue import BACKOFF_BASE_SECONDS, BACKOFF_JITTER
from marketplace.jobs.worker import Handler, JobContext, JobOutcome, RunResult, Worker
from marketplace.logs import JsonLineFormatter, request_id_var
from tests.jobs.conftest import LEASE, add_job, read_job, seconds_between

WAIT_S = 30.0


class Unreachable(Exception):
    """Stands for the Monero RPC errors a handler meets: this one says it is worth retrying."""

    transient = True


@pytest.fixture
def effects(database: Database) -> Database:
    """A scratch table a handler writes its effect into: ``scratch_effects(job_id, worker)``."""
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE scratch_effects (job_id INTEGER NOT NULL, worker VARCHAR(128))"))
    return database


def _effects(database: Database) -> list[tuple[int, str]]:
    with database.engine.connect() as connection:
        rows = connection.execute(text("SELECT job_id, worker FROM scratch_effects ORDER BY job_id"))
        return [(job_id, worker) for job_id, worker in rows]


def _worker(database: Database, handlers: dict[str, Handler], worker_id: str = "w1") -> Worker:
    return Worker(database, handlers, worker_id=worker_id, lease_seconds=LEASE, poll_seconds=0.05)


def test_a_done_handler_completes_its_job_and_its_effect_is_committed(effects: Database) -> None:
    def handler(ctx: JobContext) -> JobOutcome:
        with ctx.session() as db:
            db.execute(text("INSERT INTO scratch_effects VALUES (:job, :worker)"), {"job": ctx.job.id, "worker": "w1"})
        return JobOutcome.done()

    job_id = add_job(effects, "pay", order_id="order-1", payload={"amount_atomic": 5})
    run = _worker(effects, {"pay": handler}).run_once()

    assert run is not None
    assert (run.job_id, run.kind, run.order_id, run.result) == (job_id, "pay", "order-1", RunResult.DONE)
    job = read_job(effects, job_id)
    assert (job.state, job.attempts, job.claimed_by, job.lease_expires_at) == (JobState.DONE, 0, "w1", None)
    assert job.finished_at is not None
    assert _effects(effects) == [(job_id, "w1")]
    assert _worker(effects, {"pay": handler}).run_once() is None  # nothing left


def test_a_handler_sees_its_job(database: Database) -> None:
    seen: list[JobContext] = []

    def handler(ctx: JobContext) -> JobOutcome:
        seen.append(ctx)
        return JobOutcome.done()

    job_id = add_job(database, "look", order_id="order-7", payload={"txid": "ab" * 32}, max_attempts=4)
    _worker(database, {"look": handler}).run_once()

    (ctx,) = seen
    assert (ctx.job.id, ctx.job.kind, ctx.job.order_id, ctx.job.attempts, ctx.job.max_attempts) == (
        job_id,
        "look",
        "order-7",
        0,
        4,
    )
    assert ctx.job.payload == {"txid": "ab" * 32}
    assert ctx.now.tzinfo is not None
    assert ctx.stopping is False


def test_a_permanent_error_fails_the_job_at_once_with_its_type_and_message_only(database: Database) -> None:
    def handler(ctx: JobContext) -> JobOutcome:
        raise ValueError("the payout plan does not add up")

    job_id = add_job(database, "pay")
    run = _worker(database, {"pay": handler}).run_once()

    assert run is not None
    assert run.result is RunResult.FAILED
    job = read_job(database, job_id)
    assert job.state is JobState.FAILED
    assert job.last_error == "ValueError: the payout plan does not add up"  # no traceback, no locals


def test_a_transient_error_is_retried_later_with_its_error_kept(database: Database) -> None:
    def handler(ctx: JobContext) -> JobOutcome:
        raise Unreachable("monerod at http://127.0.0.1:18081 did not answer")

    job_id = add_job(database, "watch", max_attempts=3)
    before = utcnow()
    run = _worker(database, {"watch": handler}).run_once()

    assert run is not None
    assert run.result is RunResult.RETRY
    job = read_job(database, job_id)
    assert (job.state, job.attempts, job.claimed_by) == (JobState.QUEUED, 1, None)
    assert job.last_error == "Unreachable: monerod at http://127.0.0.1:18081 did not answer"
    assert seconds_between(job.run_at, before) >= BACKOFF_BASE_SECONDS * (1 - BACKOFF_JITTER)

    later = Worker(database, {"watch": handler}, worker_id="w2", lease_seconds=LEASE, clock=lambda: job.run_at)
    second = later.run_once()
    assert second is not None
    assert second.result is RunResult.RETRY
    third_clock = read_job(database, job_id).run_at
    third = Worker(database, {"watch": handler}, worker_id="w3", lease_seconds=LEASE, clock=lambda: third_clock)
    last = third.run_once()
    assert last is not None
    assert last.result is RunResult.FAILED
    assert read_job(database, job_id).state is JobState.FAILED
    assert read_job(database, job_id).attempts == 3


def test_waiting_is_a_state_not_an_error(database: Database) -> None:
    when = utcnow() + timedelta(minutes=2)

    def handler(ctx: JobContext) -> JobOutcome:
        return JobOutcome.reschedule(when, note="2 of 10 confirmations")

    job_id = add_job(database, "confirm", max_attempts=1)
    for n in range(3):
        clock = when if n else utcnow()
        run = Worker(database, {"confirm": handler}, worker_id="w1", lease_seconds=LEASE, clock=lambda c=clock: c)
        result = run.run_once()
        assert result is not None
        assert result.result is RunResult.RESCHEDULED

    job = read_job(database, job_id)
    assert (job.state, job.attempts, job.run_at, job.last_error) == (JobState.QUEUED, 0, when, None)


def test_a_handler_that_returns_no_outcome_fails_its_job(database: Database) -> None:
    def handler(ctx: JobContext) -> JobOutcome:
        return None  # type: ignore[return-value]  (the mistake under test)

    job_id = add_job(database, "sloppy")
    _worker(database, {"sloppy": handler}).run_once()

    job = read_job(database, job_id)
    assert job.state is JobState.FAILED
    assert job.last_error == "TypeError: the handler returned NoneType, not a JobOutcome"


def test_a_kind_without_a_handler_is_left_in_the_queue(database: Database) -> None:
    job_id = add_job(database, "unknown")

    assert _worker(database, {"known": lambda ctx: JobOutcome.done()}).run_once() is None
    assert _worker(database, {}).run_once() is None
    assert read_job(database, job_id).state is JobState.QUEUED


def test_a_worker_that_lost_its_job_commits_nothing_more_for_it(effects: Database) -> None:
    """Worker A's lease expires while its handler is stuck; B claims the job; A's late writes are refused."""
    started = threading.Event()
    proceed = threading.Event()

    def slow(ctx: JobContext) -> JobOutcome:
        started.set()
        assert proceed.wait(WAIT_S)
        with ctx.session() as db:
            db.execute(text("INSERT INTO scratch_effects VALUES (:job, :worker)"), {"job": ctx.job.id, "worker": "A"})
        return JobOutcome.done()

    job_id = add_job(effects, "pay", order_id="order-1")
    a = Worker(effects, {"pay": slow}, worker_id="A", lease_seconds=LEASE)
    a_runs: list[object] = []
    thread = threading.Thread(target=lambda: a_runs.append(a.run_once()), daemon=True)
    thread.start()
    assert started.wait(WAIT_S)
    taken = queue.claim(effects, "B", lease_seconds=LEASE, now=utcnow() + timedelta(seconds=LEASE + 1))
    proceed.set()
    thread.join(WAIT_S)

    assert taken is not None
    assert taken.id == job_id
    assert not thread.is_alive()
    (run,) = a_runs
    assert getattr(run, "result", None) is RunResult.LEASE_LOST
    assert _effects(effects) == []  # A's effect was refused: the job is B's
    job = read_job(effects, job_id)
    assert (job.state, job.claimed_by) == (JobState.RUNNING, "B")


def test_each_job_logs_its_start_and_end(database: Database, caplog: pytest.LogCaptureFixture) -> None:
    def handler(ctx: JobContext) -> JobOutcome:
        raise ValueError("refused by the co-signer")

    job_id = add_job(database, "sign", order_id="order-9")
    with caplog.at_level("INFO", logger="marketplace.worker"):
        _worker(database, {"sign": handler}).run_once()

    lines = [record for record in caplog.records if record.name == "marketplace.worker"]
    assert [record.getMessage() for record in lines] == ["job_started", "job_finished"]
    for record in lines:
        assert (vars(record)["job_id"], vars(record)["kind"], vars(record)["order_id"]) == (job_id, "sign", "order-9")
    assert vars(lines[1])["result"] == "failed"
    assert vars(lines[1])["error"] == "ValueError: refused by the co-signer"
    assert lines[1].levelname == "ERROR"


def test_a_long_job_keeps_its_lease_while_it_runs(database: Database) -> None:
    """The worker renews the lease of a job that outlasts it, so no other worker takes a job still running."""
    release = threading.Event()

    def long_step(ctx: JobContext) -> JobOutcome:
        assert release.wait(WAIT_S)
        return JobOutcome.done()

    job_id = add_job(database, "sync")
    start = utcnow()
    clock = [start]
    worker = Worker(database, {"sync": long_step}, worker_id="A", lease_seconds=LEASE, clock=lambda: clock[0])
    runs: list[object] = []
    thread = threading.Thread(target=lambda: runs.append(worker.run_once()), daemon=True)
    thread.start()
    first_expiry = start + timedelta(seconds=LEASE)
    deadline = time.monotonic() + WAIT_S
    while read_job(database, job_id).lease_expires_at != first_expiry and time.monotonic() < deadline:
        time.sleep(0.01)  # until the claim is written
    assert read_job(database, job_id).claimed_by == "A"
    clock[0] = start + timedelta(seconds=LEASE / 2)  # half the lease gone: the worker renews it
    while read_job(database, job_id).lease_expires_at == first_expiry and time.monotonic() < deadline:
        time.sleep(0.01)
    stolen = queue.claim(database, "B", lease_seconds=LEASE, now=first_expiry + timedelta(seconds=1))
    release.set()
    thread.join(WAIT_S)

    assert stolen is None
    assert read_job(database, job_id).state is JobState.DONE
    assert getattr(runs[0], "result", None) is RunResult.DONE


def test_run_forever_records_the_probe_and_stops_when_asked(database: Database) -> None:
    probed = threading.Event()

    def probe() -> list[HealthCheck]:
        probed.set()
        return [HealthCheck(MONEROD, ok=False, detail="RpcUnavailable: connection refused")]

    done_jobs: list[int] = []
    job_id = add_job(database, "tick")
    worker = Worker(
        database,
        {"tick": lambda ctx: done_jobs.append(ctx.job.id) or JobOutcome.done()},
        worker_id="w1",
        lease_seconds=LEASE,
        poll_seconds=0.05,
        probe=probe,
        probe_seconds=0.05,
    )
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    assert probed.wait(WAIT_S)
    deadline = time.monotonic() + WAIT_S
    while not done_jobs and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    thread.join(WAIT_S)

    assert not thread.is_alive()
    assert done_jobs == [job_id]
    assert read_job(database, job_id).state is JobState.DONE
    with database.session() as db:
        health = recorded_health(db)[MONEROD]
    assert (health.ok, health.detail) == (False, "RpcUnavailable: connection refused")


class _JsonLines(logging.Handler):
    """Each record formatted as the log line it becomes, at the moment it is logged (in its thread)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.formatter_ = JsonLineFormatter()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.formatter_.format(record)))


@pytest.fixture
def json_lines() -> Iterator[_JsonLines]:
    handler = _JsonLines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_a_job_keeps_the_request_id_it_was_enqueued_under_and_every_line_of_its_run_carries_it(
    database: Database, json_lines: _JsonLines
) -> None:
    def handler(ctx: JobContext) -> JobOutcome:
        logging.getLogger("marketplace.escrow").warning("escrow_step", extra={"job_id": ctx.job.id})
        with ctx.session() as db:
            queue.enqueue(db, "follow_up", order_id=ctx.job.order_id)
        return JobOutcome.done()

    token = request_id_var.set("req-place-7")
    try:
        job_id = add_job(database, "setup", order_id="order-7")
    finally:
        request_id_var.reset(token)
    untraced = add_job(database, "setup", order_id="order-8")  # enqueued outside a request
    worker = _worker(database, {"setup": handler})
    runs = [worker.run_once(), worker.run_once()]

    assert [run.job_id for run in runs if run is not None] == [job_id, untraced]
    assert read_job(database, job_id).request_id == "req-place-7"
    assert read_job(database, untraced).request_id is None
    with database.session() as db:
        follow_ups = {job.order_id: job.request_id for job in queue.list_jobs(db) if job.kind == "follow_up"}
        listed = [(job.kind, job.order_id) for job in queue.list_jobs(db, request_id="req-place-7")]
    # What the job enqueued carries the same id: the request's work can be followed job to job.
    assert follow_ups == {"order-7": "req-place-7", "order-8": None}
    assert listed == [("follow_up", "order-7"), ("setup", "order-7")]
    lines = [line for line in json_lines.lines if line.get("job_id") in (job_id, untraced)]
    assert [(line["event"], line["job_id"], line.get("request_id")) for line in lines] == [
        ("job_started", job_id, "req-place-7"),
        ("escrow_step", job_id, "req-place-7"),
        ("job_finished", job_id, "req-place-7"),
        ("job_started", untraced, None),
        ("escrow_step", untraced, None),
        ("job_finished", untraced, None),
    ]
    assert request_id_var.get() is None  # the worker's own id is not left behind
