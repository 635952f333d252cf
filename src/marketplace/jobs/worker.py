"""``marketplace worker``: the loop that carries out durable jobs, one at a time.

The loop: claim the oldest due job of a kind it has a handler for (``queue.claim``), run the
handler, record how it ended, and when nothing is due wait ``poll_seconds``. Alongside, a
thread calls the registry's health probe every ``probe_seconds`` and records what it found
(``jobs.health``), which ``/ready`` reads.

**The handler contract.** A handler is ``Callable[[JobContext], JobOutcome]``:

- It must be **idempotent**. A worker can stop at any line (kill -9, power loss, a lease that
  expired while it was stuck); the job is then claimed again and its handler runs again from the
  top. It must find its work done or resumable: check the state first (the order's state, a
  recorded transaction id) and make each effect at most once (a unique key, a compare-and-set),
  never "do it again because we got here".
- It returns ``JobOutcome.done()`` when the job's work is finished, or
  ``JobOutcome.reschedule(at)`` when it waits for something (confirmations, an unlock, a
  deadline): waiting is a state, not an error, and counts no failure.
- It raises for an error. An exception with ``transient = True`` (``RpcError.transient`` of the
  Monero clients: a daemon down, funds still locked) is retried later with capped exponential
  backoff, and after the job's ``max_attempts`` failed runs in a row it is ``failed``; any other
  exception fails the job at once. What is recorded and logged is ``ExceptionType: message`` and
  never more, so an exception message must never hold a secret.
- It writes to the database only through ``ctx.session()``: each such session first checks, in
  its own transaction, that this worker still holds the job (and extends its lease), and raises
  ``LeaseLost`` otherwise; so a worker that lost its job commits nothing more for it. Keep RPC
  calls outside an open session (on SQLite the session holds the database's write lock).
- A long handler made of several steps checks ``ctx.stopping`` between steps: when it is true
  the worker is stopping, and returning ``JobOutcome.reschedule(ctx.now)`` hands the rest to the
  next worker at once.

**Stopping.** On SIGTERM or SIGINT the worker claims nothing more; the running job gets
``stop_grace_seconds`` to finish (its outcome is recorded as usual), otherwise it is given back
to the queue (``release``: no attempt counted; sessions it opens afterwards are refused) and the
process exits 0 anyway. A second signal gives the job back at once.

**Logs.** One JSON line when a job starts (``job_started``) and one when it ends
(``job_finished``, with ``result``: done, rescheduled, retry, failed, released or lease_lost),
each with the job's id, kind and order id.

**Metrics** (``observability.worker_metrics``): each run counts in ``JOB_RUNS{kind,result}`` and
``JOB_DURATION{kind}``; each probe replaces what ``DEPENDENCY_UP``, ``MONEROD_HEIGHT`` and
``SIGNER_SYNC_LAG`` export. ``marketplace worker`` serves them (``observability.worker_server``).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import FrameType
from typing import Any

from sqlalchemy.orm import Session

from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.jobs import queue
from marketplace.jobs.health import Probe, record_health
from marketplace.jobs.models import Job, JobState
from marketplace.jobs.queue import LeaseLost
from marketplace.logs import plain_text
from marketplace.observability import worker_metrics

log = logging.getLogger("marketplace.worker")

# How often the loop looks at the running job (done? stop asked? lease to renew?).
_TICK_SECONDS = 0.2


@dataclass(frozen=True)
class JobOutcome:
    """How a handler's run ended: done (``run_at`` None), or to run again at ``run_at``."""

    run_at: datetime | None = None
    note: str | None = None

    @classmethod
    def done(cls) -> JobOutcome:
        return cls()

    @classmethod
    def reschedule(cls, run_at: datetime, note: str | None = None) -> JobOutcome:
        """Run again at ``run_at`` (timezone-aware); ``note`` (what it waits for) is logged."""
        if run_at.tzinfo is None:
            raise ValueError("JobOutcome.reschedule needs a timezone-aware time")
        return cls(run_at=run_at, note=note)

    @property
    def is_done(self) -> bool:
        return self.run_at is None


@dataclass(frozen=True)
class JobInfo:
    """What a handler knows of its job (a copy: changing it changes nothing)."""

    id: int
    kind: str
    order_id: str | None
    payload: Mapping[str, Any]
    attempts: int  # failed runs in a row before this one (0 on a first run)
    max_attempts: int


@dataclass(frozen=True)
class JobContext:
    """What a handler is given: its job, the time the run started, a fenced session factory, the stop flag."""

    job: JobInfo
    now: datetime
    worker_id: str
    _session: Callable[[], AbstractContextManager[Session]] = field(repr=False)
    _stopping: Callable[[], bool] = field(repr=False)

    def session(self) -> AbstractContextManager[Session]:
        """A context manager giving a session that commits on exit, only while this worker holds the job.

        Its first statement checks the job is still this worker's (extending the lease); if not it
        raises ``LeaseLost`` and nothing of the session is written.
        """
        return self._session()

    @property
    def stopping(self) -> bool:
        """The worker was asked to stop: finish the current step and return."""
        return self._stopping()


Handler = Callable[[JobContext], JobOutcome]


class RunResult(StrEnum):
    DONE = "done"
    RESCHEDULED = "rescheduled"
    RETRY = "retry"
    FAILED = "failed"
    RELEASED = "released"
    LEASE_LOST = "lease_lost"


@dataclass(frozen=True)
class JobRun:
    """What one run of a job came to (``Worker.run_once``)."""

    job_id: int
    kind: str
    order_id: str | None
    result: RunResult
    error: str | None = None


def default_worker_id() -> str:
    """``host:pid:random``: unique among running workers (the queue tells workers apart by it)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def describe_error(exc: BaseException) -> str:
    """``ExceptionType: message`` (the message only: never a traceback, never locals), as plain text."""
    message = str(exc)
    return plain_text(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def is_transient(exc: BaseException) -> bool:
    """An error worth retrying later: one that says so (``transient = True``)."""
    return getattr(exc, "transient", False) is True


class _Run:
    """A job being run: the handler's thread fills ``outcome`` or ``error``."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.outcome: object = None
        self.error: BaseException | None = None
        self.given_up = threading.Event()  # released or lost: the handler may no longer write


class Worker:
    """Claims and runs jobs with ``handlers`` (``{kind: handler}``); see the module docstring."""

    def __init__(
        self,
        database: Database,
        handlers: Mapping[str, Handler],
        *,
        worker_id: str | None = None,
        lease_seconds: float = 120.0,
        poll_seconds: float = 2.0,
        stop_grace_seconds: float = 20.0,
        probe: Probe | None = None,
        probe_seconds: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.handlers = dict(handlers)
        self.worker_id = worker_id or default_worker_id()
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.stop_grace_seconds = stop_grace_seconds
        self.probe = probe
        self.probe_seconds = probe_seconds
        self.clock = clock
        self._stop = threading.Event()
        self._stop_now = threading.Event()

    # --- stopping ------------------------------------------------------------------------------

    def stop(self, *, now: bool = False) -> None:
        """Ask the loop to stop (thread-safe); ``now``: give the running job back without a grace period."""
        if now or self._stop.is_set():
            self._stop_now.set()
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the worker (a second one: at once). Call from the main thread."""

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("worker_stopping", extra={"signal": signal.Signals(signum).name, "worker_id": self.worker_id})
            self.stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    # --- the loop -----------------------------------------------------------------------------

    def run_forever(self) -> None:
        """Claim, run, record until stopped; the probe runs alongside. Returns once stopped."""
        log.info("worker_started", extra={"worker_id": self.worker_id, "kinds": sorted(self.handlers)})
        prober = None
        if self.probe is not None:
            prober = threading.Thread(target=self._probe_loop, name="health-probe", daemon=True)
            prober.start()
        while not self._stop.is_set():
            try:
                ran = self.run_once()
            except Exception:
                # The database went away, most likely: say so and try again after a pause.
                log.exception("worker_error", extra={"worker_id": self.worker_id})
                ran = None
            if ran is None:
                self._stop.wait(self.poll_seconds)
        if prober is not None:
            prober.join(timeout=1.0)
        log.info("worker_stopped", extra={"worker_id": self.worker_id})

    def run_once(self) -> JobRun | None:
        """Claim one due job and run it to its end; None when nothing was due (or the worker is stopping)."""
        if self._stop.is_set():
            return None
        job = queue.claim(
            self.database, self.worker_id, kinds=list(self.handlers), lease_seconds=self.lease_seconds, now=self.clock()
        )
        if job is None:
            return None
        return self._run(job)

    def _run(self, job: Job) -> JobRun:
        run = _Run(job)
        fields = {"job_id": job.id, "kind": job.kind, "order_id": job.order_id, "worker_id": self.worker_id}
        log.info("job_started", extra={**fields, "attempts": job.attempts})
        started = time.monotonic()
        context = JobContext(
            job=JobInfo(job.id, job.kind, job.order_id, dict(job.payload), job.attempts, job.max_attempts),
            now=self.clock(),
            worker_id=self.worker_id,
            _session=lambda: self._fenced_session(run),
            _stopping=self._stop.is_set,
        )
        thread = threading.Thread(target=self._call, args=(run, context), name=f"job-{job.id}", daemon=True)
        thread.start()
        deadline: float | None = None
        while thread.is_alive():
            thread.join(timeout=_TICK_SECONDS)
            if not thread.is_alive():
                break
            if self._stop.is_set() and deadline is None:
                deadline = time.monotonic() + self.stop_grace_seconds
            if deadline is not None and (self._stop_now.is_set() or time.monotonic() >= deadline):
                return self._finish(run, fields, started, self._release(run))
            if not run.given_up.is_set():
                self._renew_if_due(run, fields)
        return self._finish(run, fields, started, self._record(run))

    def _call(self, run: _Run, context: JobContext) -> None:
        try:
            run.outcome = self.handlers[run.job.kind](context)
        except BaseException as exc:  # noqa: BLE001  every way a handler ends is recorded on the job
            run.error = exc

    @contextmanager
    def _fenced_session(self, run: _Run) -> Iterator[Session]:
        if run.given_up.is_set():
            raise LeaseLost(run.job.id, self.worker_id, None, None)
        with self.database.session() as db:
            queue.renew_lease(db, run.job, self.worker_id, lease_seconds=self.lease_seconds, now=self.clock())
            yield db

    def _renew_if_due(self, run: _Run, fields: dict[str, Any]) -> None:
        now = self.clock()
        expires = run.job.lease_expires_at
        if expires is not None and expires - now > timedelta(seconds=self.lease_seconds * 2 / 3):
            return
        lost: LeaseLost | None = None
        try:
            with self.database.session() as db:
                queue.renew_lease(db, run.job, self.worker_id, lease_seconds=self.lease_seconds, now=now)
        except LeaseLost as exc:
            lost = exc
        except Exception as exc:  # noqa: BLE001  a busy database: the next tick tries again, the lease has time left
            log.warning("lease_renewal_failed", extra={**fields, "error": describe_error(exc)})
        if lost is not None:
            # Another worker has it now: whatever the handler still does is not recorded.
            run.given_up.set()
            log.error("job_lease_lost", extra={**fields, "error": str(lost)})

    def _release(self, run: _Run) -> tuple[RunResult, str | None]:
        run.given_up.set()
        try:
            with self.database.session() as db:
                queue.release(db, run.job, self.worker_id, now=self.clock())
        except LeaseLost as exc:
            return RunResult.LEASE_LOST, str(exc)
        except Exception as exc:  # the lease will expire and the job be claimed again
            log.exception("job_release_failed", extra={"job_id": run.job.id, "worker_id": self.worker_id})
            return RunResult.RELEASED, describe_error(exc)
        return RunResult.RELEASED, None

    def _record(self, run: _Run) -> tuple[RunResult, str | None]:
        """Record how the handler ended; what was recorded and the error text, if any."""
        now = self.clock()
        error = run.error
        outcome = run.outcome
        if error is None and not isinstance(outcome, JobOutcome):
            error = TypeError(f"the handler returned {type(outcome).__name__}, not a JobOutcome")
        if isinstance(error, LeaseLost):  # from the handler's own session: the job is not ours to record
            return RunResult.LEASE_LOST, str(error)
        try:
            with self.database.session() as db:
                if error is not None:
                    text = describe_error(error)
                    if is_transient(error):
                        queue.retry_later(db, run.job, self.worker_id, text, now=now)
                        result = RunResult.FAILED if run.job.state is JobState.FAILED else RunResult.RETRY
                        return result, text
                    queue.fail(db, run.job, self.worker_id, text, now=now)
                    return RunResult.FAILED, text
                if not isinstance(outcome, JobOutcome) or outcome.run_at is None:
                    queue.complete(db, run.job, self.worker_id, now=now)
                    return RunResult.DONE, None
                queue.reschedule(db, run.job, self.worker_id, outcome.run_at, now=now)
                return RunResult.RESCHEDULED, outcome.note
        except LeaseLost as exc:
            return RunResult.LEASE_LOST, str(exc)

    def _finish(
        self, run: _Run, fields: dict[str, Any], started: float, recorded: tuple[RunResult, str | None]
    ) -> JobRun:
        result, error = recorded
        seconds = time.monotonic() - started
        worker_metrics.record_job_run(run.job.kind, result.value, seconds)
        extra = {**fields, "result": result.value, "duration_ms": round(seconds * 1000, 1)}
        if result is RunResult.RESCHEDULED:
            extra["run_at"] = run.job.run_at.isoformat()
            if error:
                extra["note"] = error
            error = None
        elif error is not None:
            extra["error"] = error
        if result is RunResult.RETRY:
            extra["run_at"] = run.job.run_at.isoformat()
        level = logging.INFO
        if result in (RunResult.RETRY, RunResult.RELEASED):
            level = logging.WARNING
        elif result in (RunResult.FAILED, RunResult.LEASE_LOST):
            level = logging.ERROR
        log.log(level, "job_finished", extra=extra)
        return JobRun(run.job.id, run.job.kind, run.job.order_id, result, error)

    # --- health ---------------------------------------------------------------------------------

    def probe_once(self) -> int:
        """Run the probe once and record every result; how many were recorded (0 without a probe)."""
        if self.probe is None:
            return 0
        try:
            results = list(self.probe())
        except Exception:
            worker_metrics.PROBE.clear()  # no result is better than an old one shown as current
            raise
        worker_metrics.PROBE.record(
            worker_metrics.ProbedDependency(check.name, check.ok, check.height, check.role, check.url)
            for check in results
        )
        now = self.clock()
        with self.database.session() as db:
            for check in results:
                record_health(db, check.name, ok=check.ok, detail=check.detail, latency_ms=check.latency_ms, now=now)
        for check in results:
            if not check.ok:
                log.warning("dependency_down", extra={"dependency": check.name, "detail": check.detail})
        return len(results)

    def _probe_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.probe_once()
            except Exception:
                log.exception("probe_failed", extra={"worker_id": self.worker_id})
            self._stop.wait(self.probe_seconds)
