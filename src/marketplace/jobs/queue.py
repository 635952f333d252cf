"""Recording work for the worker. The web process writes a job in the same transaction as the
state change that needs it, so either both are committed or neither is."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from marketplace.db.base import utcnow
from marketplace.jobs.models import Job, JobState


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
    JSON-serializable data for its handler and must hold no secret.
    """
    now = utcnow()
    job = Job(
        kind=kind,
        order_id=order_id,
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
