"""The job table (one row per piece of work the worker must carry out, kept after it ends) and the
service health table (the worker's last check of each dependency, which ``/ready`` reads)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db.base import Base, UTCDateTime, enum_column, utcnow


class JobState(StrEnum):
    """``queued`` (waiting for ``run_at``), ``running`` (claimed, under a lease), ``done``, ``failed`` (final)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_run_at", "state", "run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    # The order the job works for, if any (order ids are random strings, not row numbers). Two
    # jobs of one order never run at once (``queue.claim``).
    order_id: Mapped[str | None] = mapped_column(String(32), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[JobState] = mapped_column(enum_column(JobState, 16), default=JobState.QUEUED)
    # Not before this time: deadlines are jobs whose run_at is the deadline.
    run_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Failed runs in a row (a transient error, or a worker that stopped without finishing); a run
    # that completes or reschedules the job starts the count again.
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=10)
    # The request id of the work that enqueued it: the web request's (``X-Request-ID``), or the one
    # the job that enqueued it carried. The worker logs every line of the job with it; None for a
    # job enqueued outside any request (a command, a test).
    request_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # The worker holding the job while it runs (kept after it ends: who finished it).
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The latest failure, "ExceptionType: message" (never a traceback, never a secret).
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ServiceHealth(Base):
    """The worker's last check of one dependency (``monerod``, ``signer:buyer:http://…``): one row per name."""

    __tablename__ = "service_health"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    ok: Mapped[bool]
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # What the check found, for an operator: an error message or a version, never a secret.
    detail: Mapped[str] = mapped_column(Text, default="")
    latency_ms: Mapped[float | None] = mapped_column(Float)
