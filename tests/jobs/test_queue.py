"""The job queue on both databases: exclusive claims, leases, one job per order at a time, retries, failures."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import func, select

from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.errors import Conflict, NotFound
from marketplace.jobs import queue
from marketplace.jobs.models import Job, JobState
from marketplace.jobs.queue import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_CAP_SECONDS,
    BACKOFF_JITTER,
    LeaseLost,
    backoff_seconds,
    claim,
)
from tests.jobs.conftest import LEASE, add_job, read_job, seconds_between
from tests.support.concurrency import run_together

TIMEOUT_S = 60.0


def _claim_all(database: Database, worker_id: str) -> list[int]:
    """Claim jobs until none is left; the ids this worker got (each completed, so its order frees up)."""
    got = []
    while (job := claim(database, worker_id, lease_seconds=LEASE, now=utcnow())) is not None:
        got.append(job.id)
        with database.session() as db:
            queue.complete(db, job, worker_id)
    return got


def test_each_job_is_claimed_by_exactly_one_of_many_racing_workers(database: Database) -> None:
    ids = [add_job(database, order_id=f"order-{n % 10}" if n % 3 else None) for n in range(40)]

    outcomes = run_together([partial(_claim_all, database, f"w{n}") for n in range(8)], timeout_s=TIMEOUT_S)

    claimed = Counter(job_id for outcome in outcomes for job_id in outcome.unwrap())
    assert sorted(claimed) == ids
    assert set(claimed.values()) == {1}, f"claimed twice: {[i for i, n in claimed.items() if n > 1]}"
    with database.session() as db:
        states = Counter(db.execute(select(Job.state)).scalars())
    assert states == {JobState.DONE: 40}


def test_two_jobs_of_one_order_never_run_at_once_even_when_claimed_together(database: Database) -> None:
    for n in range(12):
        add_job(database, order_id=f"order-{n % 3}")

    def claim_one(worker_id: str) -> Job | None:
        return claim(database, worker_id, lease_seconds=LEASE, now=utcnow())

    for _ in range(4):  # four rounds of ten workers racing for the 3 orders' next jobs
        outcomes = run_together([partial(claim_one, f"w{n}") for n in range(10)], timeout_s=TIMEOUT_S)

        claimed = [job for outcome in outcomes if (job := outcome.unwrap()) is not None]
        assert sorted(job.order_id or "" for job in claimed) == ["order-0", "order-1", "order-2"]
        with database.session() as db:
            running = db.execute(
                select(Job.order_id, func.count()).where(Job.state == JobState.RUNNING).group_by(Job.order_id)
            )
            assert dict(running.all()) == {"order-0": 1, "order-1": 1, "order-2": 1}
            for job in claimed:
                queue.complete(db, job, job.claimed_by or "")
    with database.session() as db:
        assert Counter(db.execute(select(Job.state)).scalars()) == {JobState.DONE: 12}


def test_a_job_waits_while_another_job_of_its_order_runs(database: Database) -> None:
    now = utcnow()
    first = add_job(database, order_id="order-a", run_at=now - timedelta(seconds=30))
    second = add_job(database, order_id="order-a", run_at=now - timedelta(seconds=20))
    other = add_job(database, order_id="order-b", run_at=now - timedelta(seconds=10))

    a = claim(database, "w1", lease_seconds=LEASE, now=now)
    b = claim(database, "w2", lease_seconds=LEASE, now=now)
    nothing = claim(database, "w3", lease_seconds=LEASE, now=now)
    assert a is not None
    assert b is not None
    assert (a.id, b.id, nothing) == (first, other, None)  # the second job of order-a was skipped

    with database.session() as db:
        queue.complete(db, a, "w1", now=now)
    after = claim(database, "w3", lease_seconds=LEASE, now=now)
    assert after is not None
    assert after.id == second


def test_an_expired_lease_is_claimed_again_and_the_first_workers_late_complete_is_refused(database: Database) -> None:
    now = utcnow()
    job_id = add_job(database, order_id="order-a", run_at=now)
    waiting = add_job(database, order_id="order-a", run_at=now + timedelta(seconds=1))
    first = claim(database, "slow", lease_seconds=LEASE, now=now)
    assert first is not None

    before_expiry = claim(database, "other", lease_seconds=LEASE, now=now + timedelta(seconds=LEASE - 1))
    later = now + timedelta(seconds=LEASE + 1)
    second = claim(database, "other", lease_seconds=LEASE, now=later)

    assert before_expiry is None  # the lease holds the job, and the order's other job waits behind it
    assert second is not None
    assert second.id == job_id
    assert second.attempts == 1  # the run that never finished counts as a failure
    assert "slow" in (second.last_error or "")
    with database.session() as db, pytest.raises(LeaseLost, match=f"job {job_id} is no longer held by worker slow"):
        queue.complete(db, first, "slow", now=later)
    with database.session() as db, pytest.raises(LeaseLost):
        queue.renew_lease(db, first, "slow", lease_seconds=LEASE, now=later)
    assert read_job(database, job_id).claimed_by == "other"
    assert read_job(database, job_id).state is JobState.RUNNING
    assert claim(database, "third", lease_seconds=LEASE, now=later) is None  # order-a is busy again
    assert read_job(database, waiting).state is JobState.QUEUED

    with database.session() as db:
        queue.complete(db, second, "other", now=later)
    assert read_job(database, job_id).state is JobState.DONE
    assert read_job(database, job_id).claimed_by == "other"


def test_a_job_whose_worker_keeps_dying_ends_failed_instead_of_taking_every_worker_down(database: Database) -> None:
    job_id = add_job(database, max_attempts=3)
    now = utcnow()
    for n in range(3):  # three runs, each of whose workers dies (its lease expires)
        taken = claim(database, f"w{n}", lease_seconds=LEASE, now=now + timedelta(seconds=n * (LEASE + 1)))
        assert taken is not None
        assert taken.id == job_id

    nothing = claim(database, "w9", lease_seconds=LEASE, now=now + timedelta(seconds=3 * (LEASE + 1)))

    assert nothing is None
    job = read_job(database, job_id)
    assert job.state is JobState.FAILED
    assert job.attempts == 3
    assert job.last_error is not None
    assert "stopped without finishing 3 time(s)" in job.last_error


def test_the_renewed_lease_keeps_the_job(database: Database) -> None:
    job_id = add_job(database)
    now = utcnow()
    job = claim(database, "w1", lease_seconds=LEASE, now=now)
    assert job is not None
    with database.session() as db:
        queue.renew_lease(db, job, "w1", lease_seconds=LEASE, now=now + timedelta(seconds=LEASE - 1))

    assert claim(database, "w2", lease_seconds=LEASE, now=now + timedelta(seconds=LEASE + 1)) is None
    assert read_job(database, job_id).claimed_by == "w1"


def test_transient_failures_back_off_exponentially_up_to_the_cap_then_fail_with_the_last_error(
    database: Database,
) -> None:
    job_id = add_job(database, max_attempts=9)
    now = utcnow()
    waits = []
    for failure in range(1, 10):
        job = claim(database, "w1", lease_seconds=LEASE, now=now)
        assert job is not None, f"the job was not due again after failure {failure - 1}"
        assert job.id == job_id
        with database.session() as db:
            queue.retry_later(db, job, "w1", f"RpcUnavailable: monerod down ({failure})", now=now)
        stored = read_job(database, job_id)
        assert stored.attempts == failure
        assert stored.last_error == f"RpcUnavailable: monerod down ({failure})"
        if stored.state is JobState.FAILED:
            break
        assert stored.state is JobState.QUEUED
        assert stored.claimed_by is None
        waits.append(seconds_between(stored.run_at, now))
        assert claim(database, "w1", lease_seconds=LEASE, now=now) is None  # not due before its backoff
        now = stored.run_at

    assert failure == 9
    assert stored.state is JobState.FAILED
    assert stored.finished_at is not None
    assert len(waits) == 8
    for index, wait in enumerate(waits):
        full = min(BACKOFF_BASE_SECONDS * 2**index, BACKOFF_CAP_SECONDS)
        assert full * (1 - BACKOFF_JITTER) <= wait <= full, (index, wait)
    assert max(waits) <= BACKOFF_CAP_SECONDS
    assert waits[-1] >= BACKOFF_CAP_SECONDS * (1 - BACKOFF_JITTER)  # 5 s × 2^7 = 640 s: capped


def test_backoff_stays_within_its_bounds_whatever_the_draw() -> None:
    draws = random.Random(7)
    for failures in (1, 2, 5, 8, 50, 10_000):
        full = min(BACKOFF_BASE_SECONDS * 2 ** min(failures - 1, 20), BACKOFF_CAP_SECONDS)
        for _ in range(50):
            assert full * (1 - BACKOFF_JITTER) <= backoff_seconds(failures, rng=draws) <= full


def test_a_permanent_failure_fails_at_once_with_its_error(database: Database) -> None:
    job_id = add_job(database)
    job = claim(database, "w1", lease_seconds=LEASE, now=utcnow())
    assert job is not None
    with database.session() as db:
        queue.fail(db, job, "w1", "InsufficientFunds: not enough money")

    stored = read_job(database, job_id)
    assert stored.state is JobState.FAILED
    assert stored.attempts == 1
    assert stored.last_error == "InsufficientFunds: not enough money"
    assert claim(database, "w1", lease_seconds=LEASE, now=utcnow() + timedelta(days=1)) is None


def test_rescheduling_and_releasing_count_no_attempt(database: Database) -> None:
    job_id = add_job(database, max_attempts=2)
    now = utcnow()
    job = claim(database, "w1", lease_seconds=LEASE, now=now)
    assert job is not None
    with database.session() as db:
        queue.retry_later(db, job, "w1", "RpcUnavailable: down", now=now)
    now = read_job(database, job_id).run_at
    for _ in range(5):
        job = claim(database, "w1", lease_seconds=LEASE, now=now)
        assert job is not None
        with database.session() as db:
            queue.reschedule(db, job, "w1", now + timedelta(minutes=2), now=now)
        assert read_job(database, job_id).attempts == 0  # progress: the failures in a row start again
        now += timedelta(minutes=2)
        job = claim(database, "w2", lease_seconds=LEASE, now=now)
        assert job is not None
        with database.session() as db:
            queue.release(db, job, "w2", now=now)

    stored = read_job(database, job_id)
    assert stored.state is JobState.QUEUED
    assert stored.attempts == 0
    assert stored.claimed_by is None
    assert claim(database, "w3", lease_seconds=LEASE, now=now) is not None  # released: due at once


def test_a_rescheduled_job_is_not_due_before_its_time(database: Database) -> None:
    job_id = add_job(database)
    now = utcnow()
    job = claim(database, "w1", lease_seconds=LEASE, now=now)
    assert job is not None
    with database.session() as db:
        queue.reschedule(db, job, "w1", now + timedelta(minutes=5), now=now)

    assert claim(database, "w1", lease_seconds=LEASE, now=now + timedelta(minutes=4)) is None
    again = claim(database, "w1", lease_seconds=LEASE, now=now + timedelta(minutes=5))
    assert again is not None
    assert again.id == job_id


def test_claim_takes_only_the_kinds_asked_for_oldest_first(database: Database) -> None:
    now = utcnow()
    add_job(database, "other", run_at=now - timedelta(seconds=9))
    late = add_job(database, "mine", run_at=now - timedelta(seconds=1))
    early = add_job(database, "mine", run_at=now - timedelta(seconds=5))
    add_job(database, "mine", run_at=now + timedelta(seconds=5))

    got = [claim(database, "w1", kinds=["mine"], lease_seconds=LEASE, now=now) for _ in range(3)]

    assert [job.id if job else None for job in got] == [early, late, None]
    assert claim(database, "w1", kinds=[], lease_seconds=LEASE, now=now) is None


def test_an_operator_retries_a_failed_job_and_nothing_else(database: Database) -> None:
    failed_id = add_job(database, max_attempts=1)
    queued_id = add_job(database, run_at=utcnow() + timedelta(hours=1))
    now = utcnow()
    job = claim(database, "w1", lease_seconds=LEASE, now=now)
    assert job is not None
    with database.session() as db:
        queue.retry_later(db, job, "w1", "RpcUnavailable: down", now=now)
    assert read_job(database, failed_id).state is JobState.FAILED

    with database.session() as db:
        retried = queue.retry(db, failed_id)
    with database.session() as db, pytest.raises(Conflict) as refused:
        queue.retry(db, queued_id)
    with database.session() as db, pytest.raises(NotFound):
        queue.retry(db, 999_999)

    assert retried.state is JobState.QUEUED
    assert refused.value.state == "queued"
    stored = read_job(database, failed_id)
    assert (stored.state, stored.attempts, stored.finished_at) == (JobState.QUEUED, 0, None)
    assert stored.last_error == "RpcUnavailable: down"  # kept for the operator until the next run ends
    again = claim(database, "w2", lease_seconds=LEASE, now=utcnow())
    assert again is not None
    assert again.id == failed_id
