"""``marketplace serve``: run the web application."""

from __future__ import annotations

import typer

from marketplace.cli.context import settings_or_exit


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
) -> None:
    """Serve the marketplace over HTTP (put nginx with TLS in front of it in production)."""
    settings = settings_or_exit()  # fail here, once, with a readable message
    import uvicorn

    uvicorn.run(
        "marketplace.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
        log_level=settings.log_level.lower(),
    )
