"""``/health``: the process answers. ``/ready``: every dependency it needs answers.

The database is pinged. Monero dependencies (monerod, each signer endpoint) are never called
from here: ``/ready`` reads what the worker last recorded of them (``marketplace.jobs.health``).
With escrow off the site still runs (ordering answers 503): ``/ready`` says so and names the
missing settings, and stays ready.
"""

from __future__ import annotations

import logging
import time

from starlette.responses import Response

from marketplace.db.base import utcnow
from marketplace.jobs.health import readiness, recorded_health
from marketplace.jobs.models import ServiceHealth
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
    latency_ms = 0.0
    try:
        database.ping()
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        if settings.escrow_configured:
            with database.session() as db:
                recorded = recorded_health(db)
    except Exception as exc:  # noqa: BLE001  any failure means "not ready"; the reason is reported, not raised
        log.warning("dependency_down", extra={"dependency": "database", "error": type(exc).__name__})
        checks["database"] = {
            "ok": False,
            "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
        }
    else:
        checks["database"] = {"ok": True, "latency_ms": latency_ms}
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
