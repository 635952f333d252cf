"""``/health``: the process answers. ``/ready``: every dependency it needs answers."""

from __future__ import annotations

import logging
import time

from starlette.responses import Response

from marketplace.web import routing
from marketplace.web.dependencies import DatabaseDep
from marketplace.web.responses import JSONResponse

router = routing.router(tags=["health"])
log = logging.getLogger("marketplace.health")


@router.get("/health", summary="Liveness: the process answers")
async def health() -> Response:
    return JSONResponse({"status": "ok"})


@router.get("/ready", summary="Readiness: every dependency answers (503 naming those that do not)")
def ready(database: DatabaseDep) -> Response:
    checks: dict[str, dict[str, object]] = {}
    started = time.perf_counter()
    try:
        database.ping()
    except Exception as exc:  # noqa: BLE001  any failure means "not ready"; the reason is reported, not raised
        log.warning("dependency_down", extra={"dependency": "database", "error": type(exc).__name__})
        checks["database"] = {
            "ok": False,
            "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
        }
    else:
        checks["database"] = {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    failing = [name for name, check in checks.items() if not check["ok"]]
    body = {"status": "unavailable" if failing else "ready", "failing": failing, "checks": checks}
    return JSONResponse(body, status_code=503 if failing else 200)
