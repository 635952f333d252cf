"""``/health``: the process answers. ``/ready``: every dependency it needs answers.

The database answers a trivial query, in the one session that also reads the job backlog and the
recorded checks. Monero dependencies (monerod, each signer endpoint) are never called from here:
``/ready`` reads what the worker last recorded of them (``marketplace.jobs.health``).
With escrow off the site still runs (ordering answers 503): ``/ready`` says so and names the
missing settings, and stays ready.

``job_backlog``: the oldest due job still queued (its wait since it fell due) and how many are
due; not ready when that wait exceeds ``ready_job_backlog_seconds`` (no worker running, or one
stuck or too slow). Read from the database like the rest, on every request.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from starlette.responses import Response

from marketplace.db.base import utcnow
from marketplace.jobs.health import readiness, recorded_health
from marketplace.jobs.models import Job, JobState, ServiceHealth
from marketplace.web import routing
from marketplace.web.dependencies import DatabaseDep, SettingsDep
from marketplace.web.responses import JSONResponse

router = routing.router(tags=["health"])
log = logging.getLogger("marketplace.health")


@router.get("/health", summary="Liveness: the process answers")
async def health() -> Response:
    return JSONResponse({"status": "ok"})


@router.get("/ready", summary="Readiness: every dependency answers (503 naming those that do not)")
def ready(database: DatabaseDep, settings: SettingsDep) -> Response:
    checks: dict[str, dict[str, object]] = {}
    started = time.perf_counter()
    recorded: dict[str, ServiceHealth] = {}
    backlog: dict[str, Any] | None = None
    latency_ms = 0.0
    try:
        with database.session() as db:  # one connection per probe: the ping, the backlog, the records
            db.execute(text("SELECT 1"))
            latency_ms = round((time.perf_counter() - started) * 1000, 2)
            now = utcnow()
            backlog = job_backlog(db, now, settings.ready_job_backlog_seconds)
            if settings.escrow_configured:
                recorded = recorded_health(db)
    except Exception as exc:  # noqa: BLE001  any failure means "not ready"; the reason is reported, not raised
        log.warning("dependency_down", extra={"dependency": "database", "error": type(exc).__name__})
        checks["database"] = {
            "ok": False,
            "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
        }
    else:
        checks["database"] = {"ok": True, "latency_ms": latency_ms}
    if backlog is not None:
        checks["job_backlog"] = backlog
    escrow: dict[str, object]
    if settings.escrow_configured:
        checks.update(readiness(settings, recorded, utcnow()))
        escrow = {"enabled": True, "stale_after_seconds": settings.health_stale_seconds}
    else:
        missing = settings.escrow_missing
        escrow = {
            "enabled": False,
            "missing": missing,
            "message": f"escrow is off (ordering answers 503) until these settings are given: {', '.join(missing)}",
        }
    failing = [name for name, check in checks.items() if not check["ok"]]
    body = {"status": "unavailable" if failing else "ready", "failing": failing, "checks": checks, "escrow": escrow}
    return JSONResponse(body, status_code=503 if failing else 200)


# Probes that send HEAD (HAProxy's `option httpchk HEAD /ready`, uptime monitors) get the same status
# code, without the body; not in the API document (one operation per path there).
router.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/ready", ready, methods=["HEAD"], include_in_schema=False)


def job_backlog(db: Session, now: datetime, limit_seconds: int) -> dict[str, Any]:
    """The ``job_backlog`` check: the due queued jobs, and how long the oldest has waited since it fell due."""
    due, oldest = db.execute(
        select(func.count(Job.id), func.min(Job.run_at)).where(Job.state == JobState.QUEUED, Job.run_at <= now)
    ).one()
    oldest_wait = 0.0 if oldest is None else max(0.0, (now - _aware(oldest)).total_seconds())
    check: dict[str, Any] = {
        "ok": oldest_wait <= limit_seconds,
        "due_jobs": due,
        "oldest_wait_seconds": round(oldest_wait, 1),
        "limit_seconds": limit_seconds,
    }
    if not check["ok"]:
        check["detail"] = (
            f"the oldest due job has waited {round(oldest_wait)} s (more than {limit_seconds} s): "
            "is `marketplace worker` running? `marketplace jobs list` shows the queue"
        )
    return check


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
