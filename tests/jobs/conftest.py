"""Helpers for the job queue tests: adding jobs and reading them back as an operator would."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from marketplace.db.engine import Database
from marketplace.jobs.models import Job
from marketplace.jobs.queue import enqueue

LEASE = 60.0


def add_job(database: Database, kind: str = "work", **fields: Any) -> int:
    """Enqueue one job (committed) and return its id."""
    with database.session() as db:
        return enqueue(db, kind, **fields).id


def read_job(database: Database, job_id: int) -> Job:
    """The job as it is now in the database."""
    with database.session() as db:
        job = db.execute(select(Job).where(Job.id == job_id)).scalar_one()
        db.expunge(job)
        return job


def seconds_between(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()
