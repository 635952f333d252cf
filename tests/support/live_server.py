"""The app served over real HTTP on loopback, and N requests sent to it at the same instant.

    with serve(app) as base_url:                      # or the ``live_server`` fixture
        answers = parallel_requests(base_url, ["/health"] * 8, timeout_s=10)
    assert [answer.status for answer in answers] == [200] * 8
    claim = HttpRequest("POST", "/api/v1/jobs/1/claim", headers={"Authorization": f"Bearer {token}"})
    statuses = sorted(a.status for a in parallel_requests(base_url, [claim] * 4, timeout_s=10))

``serve`` runs uvicorn in a daemon thread on a socket bound to 127.0.0.1 (port chosen by the
system), without lifespan (the test owns the database) and without access log. The app runs as in
production: one event loop, sync routes in the thread pool.

``parallel_requests`` gives each request a thread and an ``httpx`` client of its own (so each
has its own connection), releases them together (``run_together``) and returns one
``HttpAnswer`` per request, in order. Only loopback URLs are accepted; environment proxies are
ignored. A request that fails below HTTP (refused, timed out) fails the test with every such
error listed (an ``ExceptionGroup``).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any

import httpx2 as httpx
import orjson
import pytest
import uvicorn
from starlette.types import ASGIApp

from tests.support.threads import run_together

MAX_REQUESTS = 128  # a thread and a client each; the issue asks for storms of 100


@contextmanager
def serve(app: ASGIApp, *, start_timeout_s: float = 20.0, stop_timeout_s: float = 10.0) -> Iterator[str]:
    """Serve ``app`` on a loopback port for the duration of the block; gives its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=int(stop_timeout_s / 2) or 1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout_s
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                pytest.fail(f"the live server did not start within {start_timeout_s} s")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=stop_timeout_s)
        sock.close()
        if thread.is_alive():
            pytest.fail(f"the live server did not stop within {stop_timeout_s} s")


@dataclass(frozen=True)
class HttpRequest:
    """One request to send: a path on the served app (``/...``) and what to send with it."""

    method: str = "GET"
    path: str = "/"
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    data: Mapping[str, str] | None = None
    content: bytes | None = None


@dataclass(frozen=True)
class HttpAnswer:
    request: HttpRequest
    status: int
    headers: httpx.Headers
    body: bytes
    elapsed_s: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return orjson.loads(self.body)


@cache
def _tls_context() -> ssl.SSLContext:
    # One context for every client: building one per client costs ~35 ms.
    return ssl.create_default_context()


def require_loopback(base_url: str) -> None:
    """Fail unless ``base_url`` is an http(s) URL on a loopback address (or ``localhost``)."""
    url = httpx.URL(base_url)
    assert url.scheme in {"http", "https"}, f"not an http(s) URL: {base_url!r}"
    host = url.host
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    assert loopback, f"requests go to loopback addresses only, not {host!r}"


def parallel_requests(
    base_url: str, requests: Sequence[HttpRequest | str], *, timeout_s: float = 10.0
) -> list[HttpAnswer]:
    """Send every request at once (a plain string is a GET of that path); one answer per request, in order."""
    require_loopback(base_url)
    wanted = [HttpRequest(path=item) if isinstance(item, str) else item for item in requests]
    assert 1 <= len(wanted) <= MAX_REQUESTS, f"1 to {MAX_REQUESTS} requests, not {len(wanted)}"
    for request in wanted:
        assert request.path.startswith("/"), f"not a path: {request.path!r}"
        assert not request.path.startswith("//"), f"not a path: {request.path!r}"
    with ExitStack() as stack:
        clients = [
            stack.enter_context(
                httpx.Client(
                    base_url=base_url, timeout=timeout_s, trust_env=False, follow_redirects=False, verify=_tls_context()
                )
            )
            for _ in wanted
        ]

        def sender(client: httpx.Client, request: HttpRequest) -> HttpAnswer:
            started = time.perf_counter()
            response = client.request(
                request.method,
                request.path,
                headers=dict(request.headers),
                json=request.json,
                data=request.data,
                content=request.content,
            )
            return HttpAnswer(
                request=request,
                status=response.status_code,
                headers=response.headers,
                body=response.content,
                elapsed_s=time.perf_counter() - started,
            )

        calls = [partial(sender, client, request) for client, request in zip(clients, wanted, strict=True)]
        outcomes = run_together(calls, timeout_s=timeout_s + 5)
    errors = [outcome.error for outcome in outcomes if outcome.error is not None]
    if errors:
        raise BaseExceptionGroup(f"{len(errors)} of {len(wanted)} requests failed below HTTP", errors)
    return [outcome.unwrap() for outcome in outcomes]
