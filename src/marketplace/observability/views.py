"""``GET /metrics``: the web process's metrics, for Prometheus (never exposed publicly: docs/security.md).

A plain ``def``: reading the metric files of every server process runs in the thread pool, so a
scrape during load does not hold up the event loop. Not in the API document (it is not the API).
"""

from __future__ import annotations

from starlette.responses import Response

from marketplace.observability.registry import render
from marketplace.web import routing

router = routing.router(tags=["observability"])


@router.get("/metrics", summary="Prometheus metrics of the web process", include_in_schema=False)
def metrics() -> Response:
    body, content_type = render()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
