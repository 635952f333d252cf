"""Request context middleware (pure ASGI, so it costs little on the hot path).

Gives each request an id (kept from a sane ``X-Request-ID`` header, else random), echoes it in
the response, adds security headers, logs one JSON line per request and counts it in the metrics
(``names.HTTP_REQUESTS``, ``names.HTTP_DURATION``) by the route template the router matched
(``observability.metrics.route_template``: read from the scope this middleware passed down), never
by the raw path: every path no route matches is the one label ``unmatched``.

It is also where an unexpected exception becomes the 500 answer: here, inside the request's
context, so the 500 carries the same headers and request id as every other response, its log
line (with the traceback) carries the request id, and the connection stays usable. Starlette's
own last-resort handler sits outside every middleware and could do none of that.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.logs import request_id_var
from marketplace.observability.metrics import record_request
from marketplace.web.errors import INTERNAL_ERROR, error_response

log = logging.getLogger("marketplace.http")

_REQUEST_ID_PATTERN = re.compile(rb"[A-Za-z0-9._-]{1,64}")
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        (
            b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
            b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
    ),
]


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: bool = True) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or secrets.token_hex(8)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder: MutableMapping[str, Any] = {"status": 500, "started": False}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in _SECURITY_HEADERS if h[0] not in present)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled_exception")
            if status_holder["started"]:
                raise  # part of the answer is on its way: only closing the connection can tell the client
            await _internal_error_response(scope)(scope, receive, send_with_headers)
        finally:
            status = status_holder["status"]
            seconds = time.perf_counter() - started
            if self.metrics:
                record_request(scope, status, seconds)
            log.log(
                logging.ERROR if status >= 500 else logging.INFO,
                "http_request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
            request_id_var.reset(token)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and _REQUEST_ID_PATTERN.fullmatch(value):
            return str(value.decode())
    return None


def _internal_error_response(scope: Scope) -> Response:
    """The 500 page or JSON body; plain text if even the error page cannot be rendered."""
    try:
        return error_response(Request(scope), 500, dict(INTERNAL_ERROR))
    except Exception:
        log.exception("error_page_failed")
        return PlainTextResponse(INTERNAL_ERROR["message"], status_code=500)
