"""The reference: a bare FastAPI app, served by the same server program with the same options.

``python -m bench.bare_app --server granian --port 8001 --workers 2`` serves it through
``marketplace.cli.serve.run_server``, the function ``marketplace serve`` itself calls, so the only
difference from the marketplace is the application.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import threading
from pathlib import Path

from fastapi import FastAPI

from marketplace.cli.serve import ServerKind, run_server

FACTORY = "bench.bare_app:create_app"
# The visibility rule (status, hidden_at, vendor status) as one hand-written COUNT, for /bare-count.
VISIBLE_COUNT_SQL = (
    "SELECT count(*) FROM listings WHERE status = 'active' AND hidden_at IS NULL"
    " AND vendor_id IN (SELECT id FROM users WHERE status = 'active')"
)
_connections = threading.local()


def _visible_count() -> int:
    """The count every listing page needs, with nothing around it: raw sqlite3, one connection per thread."""
    connection = getattr(_connections, "connection", None)
    if connection is None:
        database = Path(os.environ["MARKETPLACE_DATA_DIR"]) / "marketplace.sqlite3"
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, check_same_thread=False)
        _connections.connection = connection
    return int(connection.execute(VISIBLE_COUNT_SQL).fetchone()[0])


def create_app() -> FastAPI:
    """Endpoints returning a small JSON object: ``async def``, ``def`` (run in the thread pool), and
    ``def`` plus the raw visible-listings COUNT (a floor for any endpoint that reports a total).
    """
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/bare", response_model=None)
    async def bare() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/bare-sync", response_model=None)
    def bare_sync() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/bare-count", response_model=None)
    def bare_count() -> dict[str, int]:
        return {"total": _visible_count()}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", type=ServerKind, choices=list(ServerKind), required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    run_server(args.server, FACTORY, host=args.host, port=args.port, workers=args.workers, log_level="INFO")


if __name__ == "__main__":
    main()
