"""``marketplace serve``: run the web application.

Two ASGI servers are supported. ``make bench`` measures both in one run, and docs/performance.md
records why uvicorn (with uvloop and httptools) is the default: on the marketplace's own
endpoints the two are within about 10%, uvicorn ahead on the JSON list, and uvicorn is the
server the test suite's live server runs. Both build the app from its factory in each worker
process (so each worker opens its own database pool) and log nothing per request themselves (the
app logs one JSON line per request). uvicorn sends no ``Server`` header; granian always sends
``server: granian``.

Before the server starts, the metrics directory (``MARKETPLACE_METRICS_DIR``) is emptied and
prometheus-client pointed at it (``observability.registry``): every server worker process writes
its metrics there and ``/metrics`` sums them. Nothing this module imports may import
prometheus-client (a test checks).
"""

from __future__ import annotations

from enum import StrEnum

import typer

from marketplace.cli.context import settings_or_exit
from marketplace.observability.registry import prepare_multiprocess_dir

APP_FACTORY = "marketplace.web.app:create_app"


class ServerKind(StrEnum):
    UVICORN = "uvicorn"
    GRANIAN = "granian"


DEFAULT_SERVER = ServerKind.UVICORN
GRACEFUL_SHUTDOWN_SECONDS = 30


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
    server: ServerKind = typer.Option(DEFAULT_SERVER, help="ASGI server (docs/performance.md compares them)."),
) -> None:
    """Serve the marketplace over HTTP (put nginx with TLS in front of it in production)."""
    settings = settings_or_exit()  # fail here, once, with a readable message
    if settings.metrics_enabled:
        prepare_multiprocess_dir(settings.resolved_metrics_dir)
    run_server(server, APP_FACTORY, host=host, port=port, workers=workers, log_level=settings.log_level)


def run_server(server: ServerKind, factory: str, *, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the ASGI app built by ``factory`` ("module:function") until interrupted.

    Public so that the benchmark serves its bare reference app with exactly the same options.
    """
    if server is ServerKind.GRANIAN:
        _run_granian(factory, host=host, port=port, workers=workers, log_level=log_level)
    else:
        _run_uvicorn(factory, host=host, port=port, workers=workers, log_level=log_level)


def _run_uvicorn(factory: str, *, host: str, port: int, workers: int, log_level: str) -> None:
    import uvicorn

    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
        log_level=log_level.lower(),
        # On SIGTERM, requests in flight get this long to finish; then the worker stops anyway.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def _run_granian(factory: str, *, host: str, port: int, workers: int, log_level: str) -> None:
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server

    Server(
        factory,
        factory=True,
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGI,  # with lifespan: the app disposes of its pool on shutdown
        http=HTTPModes.http1,  # nginx speaks HTTP/1.1 to the app
        websockets=False,
        loop=Loops.uvloop,
        log_access=False,
        log_level=LogLevels(log_level.lower()),
        log_dictconfig=_granian_log_config(),
        respawn_failed_workers=True,
    ).serve()


def _granian_log_config() -> dict[str, object]:
    """Granian's own messages (start, workers, shutdown) as our JSON lines on stderr."""
    return {
        "formatters": {"json": {"()": "marketplace.logs.JsonLineFormatter"}},
        "handlers": {"console": {"formatter": "json", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}},
        "loggers": {"_granian": {"handlers": ["console"], "level": "INFO", "propagate": False}},
    }
