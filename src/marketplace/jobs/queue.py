"""The durable job queue: recording work, claiming it under a lease, and recording how it ended.

The web process writes a job (``enqueue``) in the same transaction as the state change that needs
it, so either both are committed or neither is. A worker then:

1. **claims** the oldest due job (``claim``): ``queued`` with ``run_at`` reached, or ``running``
   with an expired lease (its worker stopped without finishing: the job is claimed again, and
   that counts as a failed attempt). The claim is one conditional UPDATE whose row count is
   checked; on PostgreSQL the candidate is first read ``FOR UPDATE SKIP LOCKED``, so workers do
   not queue behind each other's candidates. Two jobs of the same order never run at once (the
   escrow of one order is carried by one worker at a time): a job whose order has another job
   running under an unexpired lease is not claimable (PostgreSQL: the claims of one order are
   serialized by a transaction-scoped advisory lock taken with ``pg_try_advisory_xact_lock``, so a
   busy order is skipped, not waited for; SQLite: its one writer at a time).
2. **renews** the lease while the job runs (``renew_lease``);
3. **records the end**: ``complete``; ``reschedule`` (the job waits for something, such as
   confirmations, and runs again at ``run_at``; no failure is counted); ``retry_later`` (a
   transient error: capped exponential backoff with bounded jitter, and after ``max_attempts``
   failed runs in a row the job is ``failed``); ``fail`` (a permanent error, final at once); or
   ``release`` (given back untouched, on SIGTERM).

Every one of these changes is conditioned on ``claimed_by = worker_id AND state = running``: a
worker whose lease expired and whose job was claimed by another cannot complete, fail or
reschedule that job; it gets :class:`LeaseLost`. Operators put a failed job back with ``retry``.

``attempts`` counts failed runs in a row; a run that completes or reschedules starts it again, so
a job that waits for days (payment watching) fails only after ``max_attempts`` failures in a row.

All times are timezone-aware UTC and passed in (``now``), so a test can move the clock.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, Update, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.db.writes import compare_and_set
from marketplace.errors import Conflict, NotFound
from marketplace.jobs.models import Job, JobState
from marketplace.logs import request_id_var

# Backoff of a transient failure: BACKOFF_BASE_SECONDS × 2^(failures − 1), at most
# BACKOFF_CAP_SECONDS, shortened by up to BACKOFF_JITTER of itself so that jobs failing
# together (monerod restarting) do not all come back at the same instant.
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 600.0
BACKOFF_JITTER = 0.2
# A last error longer than this is cut (it is a message, not a log).
MAX_ERROR_LENGTH = 2000
# How many candidates one claim tries before it gives up for this poll (each miss means another
# worker took that job, or its order became busy).
_CLAIM_TRIES = 20


class LeaseLost(RuntimeError):
    """The worker no longer holds the job: its lease expired and another worker claimed it, or it ended.

    Raised instead of changing the job; whatever the worker was about to record is not recorded.
    """

    def __init__(self, job_id: int, worker_id: str, state: str | None, claimed_by: str | None) -> None:
        self.job_id = job_id
        self.worker_id = worker_id
        self.state = state
        self.claimed_by = claimed_by
        holder = f", claimed by {claimed_by}" if claimed_by and state == JobState.RUNNING else ""
        super().__init__(f"job {job_id} is no longer held by worker {worker_id} (it is {state or 'gone'}{holder})")


def enqueue(
    db: Session,
    kind: str,
    *,
    order_id: str | None = None,
    run_at: datetime | None = None,
    payload: dict[str, Any] | None = None,
    max_attempts: int = 10,
) -> Job:
    """Add a queued job of ``kind`` to ``db``'s transaction (committed with it) and return it.

    ``run_at`` (timezone-aware) is the earliest time it may run, default now; ``payload`` is
    JSON-serializable data for its handler and must hold no secret. The job keeps the request id
    current now (``marketplace.logs.request_id_var``: the web request's, or the running job's), so
    the worker's log lines for it carry the id of the request that caused it.
    """
    now = utcnow()
    job = Job(
        kind=kind,
        order_id=order_id,
        request_id=request_id_var.get(),
        run_at=run_at or now,
        payload=payload or {},
        state=JobState.QUEUED,
        max_attempts=max_attempts,
        created_at=now,
        updated_at=now,
    )
    db.add(job)
    db.flush()
    return job


def backoff_seconds(failures: int, *, rng: random.Random | None = None) -> float:
    """The wait before the next run of a job that has failed ``failures`` times in a row (≥ 1).

    ``BACKOFF_BASE_SECONDS × 2^(failures − 1)`` capped at ``BACKOFF_CAP_SECONDS``, then
    shortened by a random part of at most ``BACKOFF_JITTER`` of itself: always within
    ``[(1 − BACKOFF_JITTER) × capped, capped]``.
    """
    exponent = min(max(failures, 1) - 1, 32)  # 2^32 × 5 s is far past the cap already
    capped = min(BACKOFF_BASE_SECONDS * 2.0**exponent, BACKOFF_CAP_SECONDS)
    return capped * (1.0 - BACKOFF_JITTER * (rng or random).random())


def error_text(error: str) -> str:
    """``error`` as stored in ``last_error``: cut to ``MAX_ERROR_LENGTH`` characters."""
    return error if len(error) <= MAX_ERROR_LENGTH else error[: MAX_ERROR_LENGTH - 1] + "…"


# --- claiming ---------------------------------------------------------------------------------


def _due(now: datetime) -> ColumnElement[bool]:
    """Queued and due, or running under a lease that has expired."""
    return or_(
        and_(Job.state == JobState.QUEUED, Job.run_at <= now),
        and_(Job.state == JobState.RUNNING, Job.lease_expires_at <= now),
    )


def _order_is_free(now: datetime) -> ColumnElement[bool]:
    """No other job of the same order is running under an unexpired lease (always true without an order)."""
    other = aliased(Job, name="other_job")
    return ~exists().where(
        other.order_id == Job.order_id,
        other.id != Job.id,
        other.state == JobState.RUNNING,
        other.lease_expires_at > now,
    )


def _order_lock_key(order_id: str) -> int:
    """The advisory lock key of an order's claims (PostgreSQL), 64 bits of a hash in its own namespace."""
    return int.from_bytes(hashlib.sha256(f"jobs.order:{order_id}".encode()).digest()[:8], "big", signed=True)


def claim(
    database: Database,
    worker_id: str,
    *,
    kinds: Collection[str] | None = None,
    lease_seconds: float,
    now: datetime,
) -> Job | None:
    """Claim the oldest due job (of ``kinds``, if given) for ``worker_id``; None when nothing is claimable.

    Runs and commits its own short transactions. The job returned is ``running``, claimed by
    ``worker_id`` with a lease until ``now + lease_seconds``, and detached from any session.
    A job whose lease had expired has its ``attempts`` raised by one (its last run never
    finished); if that reaches ``max_attempts`` it is ``failed`` instead of claimed (a job that
    stops its worker every time must not stop every worker for ever), and the next one is tried.
    """
    if kinds is not None and not kinds:
        return None
    excluded: set[int] = set()
    for _ in range(_CLAIM_TRIES):
        with database.session() as db:
            result = _claim_one(db, worker_id, kinds=kinds, lease_seconds=lease_seconds, now=now, excluded=excluded)
        if result is None:
            return None
        if isinstance(result, Job):
            return result
        excluded.add(result)
    return None


def _claim_one(
    db: Session,
    worker_id: str,
    *,
    kinds: Collection[str] | None,
    lease_seconds: float,
    now: datetime,
    excluded: set[int],
) -> Job | int | None:
    """One try: the claimed job, the id of a candidate that could not be claimed, or None (nothing due)."""
    postgres = db.get_bind().dialect.name == "postgresql"
    candidate = select(Job).where(_due(now), _order_is_free(now)).order_by(Job.run_at, Job.id).limit(1)
    if kinds is not None:
        candidate = candidate.where(Job.kind.in_(list(kinds)))
    if excluded:
        candidate = candidate.where(Job.id.not_in(excluded))
    if postgres:
        candidate = candidate.with_for_update(skip_locked=True, of=Job)
    job = db.execute(candidate).scalar_one_or_none()
    if job is None:
        return None
    job_id = job.id
    if postgres and job.order_id is not None:
        # Another transaction is claiming a job of this order right now: leave the order to it.
        locked = db.execute(select(func.pg_try_advisory_xact_lock(_order_lock_key(job.order_id)))).scalar_one()
        if not locked:
            return job_id
    # The conditions are checked again by the UPDATE itself: on SQLite the candidate was read
    # outside any transaction; on PostgreSQL the statement sees what committed since the read.
    expected = [Job.id == job_id, _due(now), _order_is_free(now), Job.attempts == job.attempts]
    reclaimed = job.state is JobState.RUNNING
    attempts = job.attempts + 1 if reclaimed else job.attempts
    if reclaimed and attempts >= job.max_attempts:
        error = (
            f"WorkerStopped: the worker running it ({job.claimed_by}) stopped without finishing "
            f"{attempts} time(s) in a row (its lease expired)"
        )
        _execute(
            db,
            update(Job)
            .where(*expected)
            .values(
                state=JobState.FAILED,
                attempts=attempts,
                last_error=error,
                lease_expires_at=None,
                updated_at=now,
                finished_at=now,
            ),
        )
        db.commit()
        return job_id
    values: dict[str, Any] = {
        "state": JobState.RUNNING,
        "claimed_by": worker_id,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        "attempts": attempts,
        "updated_at": now,
    }
    if reclaimed:
        values["last_error"] = error_text(
            f"WorkerStopped: the worker running it ({job.claimed_by}) stopped without finishing (its lease expired)"
        )
    if _execute(db, update(Job).where(*expected).values(**values)) != 1:
        db.rollback()
        return job_id
    db.commit()
    db.refresh(job)
    db.expunge(job)
    return job


def _execute(db: Session, statement: Update) -> int:
    """Run a conditional UPDATE (loaded objects left alone) and return how many rows it changed."""
    result = db.execute(statement.execution_options(synchronize_session=False))
    return result.rowcount if isinstance(result, CursorResult) else 0


# --- recording how a run ended ----------------------------------------------------------------


def _held_by(job: Job, worker_id: str) -> list[ColumnElement[bool]]:
    return [Job.id == job.id, Job.claimed_by == worker_id, Job.state == JobState.RUNNING]


def _change(db: Session, job: Job, worker_id: str, **values: Any) -> None:
    """Apply ``values`` to ``job`` if ``worker_id`` still holds it, else raise ``LeaseLost``; updates ``job`` too."""

    def refused() -> LeaseLost:
        row = db.execute(select(Job.state, Job.claimed_by).where(Job.id == job.id)).one_or_none()
        return LeaseLost(job.id, worker_id, row.state if row else None, row.claimed_by if row else None)

    compare_and_set(db, update(Job).where(*_held_by(job, worker_id)).values(**values), refused=refused)
    for name, value in values.items():
        # The in-memory object follows (without marking it dirty, if it belongs to a session).
        set_committed_value(job, name, value)


def renew_lease(db: Session, job: Job, worker_id: str, *, lease_seconds: float, now: datetime) -> None:
    """Extend ``worker_id``'s lease on ``job`` to ``now + lease_seconds``; ``LeaseLost`` if it no longer holds it."""
    _change(db, job, worker_id, lease_expires_at=now + timedelta(seconds=lease_seconds), updated_at=now)


def complete(db: Session, job: Job, worker_id: str, *, now: datetime | None = None) -> None:
    """The job is done (final); ``attempts`` stays, telling how many failed runs came just before."""
    now = now or utcnow()
    _change(db, job, worker_id, state=JobState.DONE, lease_expires_at=None, updated_at=now, finished_at=now)


def reschedule(db: Session, job: Job, worker_id: str, run_at: datetime, *, now: datetime | None = None) -> None:
    """The job waits for something (confirmations, a deadline) and runs again at ``run_at``; no failure counted.

    The run succeeded, so the count of failures in a row starts again.
    """
    now = now or utcnow()
    _change(
        db,
        job,
        worker_id,
        state=JobState.QUEUED,
        run_at=run_at,
        attempts=0,
        claimed_by=None,
        lease_expires_at=None,
        updated_at=now,
    )


def release(db: Session, job: Job, worker_id: str, *, now: datetime | None = None) -> None:
    """Give the job back untouched (the worker is stopping): queued again at once, no attempt counted."""
    now = now or utcnow()
    _change(db, job, worker_id, state=JobState.QUEUED, claimed_by=None, lease_expires_at=None, updated_at=now)


def retry_later(
    db: Session, job: Job, worker_id: str, error: str, *, now: datetime, rng: random.Random | None = None
) -> None:
    """A transient failure: queued again after ``backoff_seconds``, or ``failed`` once ``max_attempts`` is reached.

    ``error`` ("Type: message", no secret) is kept as ``last_error`` either way.
    """
    failures = job.attempts + 1
    if failures >= job.max_attempts:
        _change(
            db,
            job,
            worker_id,
            state=JobState.FAILED,
            attempts=failures,
            last_error=error_text(error),
            lease_expires_at=None,
            updated_at=now,
            finished_at=now,
        )
        return
    _change(
        db,
        job,
        worker_id,
        state=JobState.QUEUED,
        attempts=failures,
        last_error=error_text(error),
        run_at=now + timedelta(seconds=backoff_seconds(failures, rng=rng)),
        claimed_by=None,
        lease_expires_at=None,
        updated_at=now,
    )


def fail(db: Session, job: Job, worker_id: str, error: str, *, now: datetime | None = None) -> None:
    """A permanent failure: the job is ``failed`` at once with ``error`` as its final error."""
    now = now or utcnow()
    _change(
        db,
        job,
        worker_id,
        state=JobState.FAILED,
        attempts=job.attempts + 1,
        last_error=error_text(error),
        lease_expires_at=None,
        updated_at=now,
        finished_at=now,
    )


# --- operators --------------------------------------------------------------------------------


def retry(db: Session, job_id: int, *, now: datetime | None = None) -> Job:
    """Put the failed job ``job_id`` back in the queue, due now, its count of failures reset.

    ``NotFound`` if there is no such job; ``Conflict`` (naming its state) if it is not failed.
    Its ``last_error`` stays until the next run ends, so the operator can still read it.
    """
    now = now or utcnow()

    def refused() -> Exception:
        state = db.execute(select(Job.state).where(Job.id == job_id)).scalar_one_or_none()
        if state is None:
            return NotFound(f"there is no job {job_id}")
        return Conflict(f"job {job_id} is {state}, not failed: only a failed job can be retried", state=str(state))

    compare_and_set(
        db,
        update(Job)
        .where(Job.id == job_id, Job.state == JobState.FAILED)
        .values(
            state=JobState.QUEUED,
            attempts=0,
            run_at=now,
            claimed_by=None,
            lease_expires_at=None,
            finished_at=None,
            updated_at=now,
        ),
        refused=refused,
    )
    return db.execute(select(Job).where(Job.id == job_id).execution_options(populate_existing=True)).scalar_one()


def list_jobs(
    db: Session, *, state: JobState | None = None, request_id: str | None = None, limit: int = 50
) -> list[Job]:
    """Jobs, newest first, of ``state`` and ``request_id`` if given: what ``marketplace jobs list`` shows."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if state is not None:
        query = query.where(Job.state == state)
    if request_id is not None:
        query = query.where(Job.request_id == request_id)
    return list(db.execute(query).scalars())
