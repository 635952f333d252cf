"""Request bodies are bounded per route and refused with 413 before anything stores or parses them.

Without a bound, an anonymous multipart POST of gigabytes to ``/login`` is spooled to disk in
full before the CSRF check refuses it, and a huge JSON body is parsed before validation refuses
it. ``RequestBodyLimit`` sits in front of routing, CSRF, authentication and parsing:

- a declared ``Content-Length`` over the route's limit is answered 413 at once, without reading
  a byte of the body;
- otherwise (chunked bodies, a ``Content-Length`` that lies) the bytes are counted as the app
  receives them, and the receive that passes the limit raises ``RequestBodyTooLarge`` (an
  ``HTTPException``, so FastAPI's body parsing and Starlette's form parser let it through and the
  app's error handlers answer it in the usual shape). At most the limit was buffered.

The 413 says ``Connection: close``: the rest of the body is never read, so the connection cannot
carry another request, and closing it stops a body that never ends.

Limits are in bytes. Routes that take image files have their own (``RouteBodyLimit``); every other
route has the default, which fits the largest form or JSON body a person can legitimately send.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.web.errors import http_error_response

# The most bytes one character of text can take in a body: a character outside the Basic
# Multilingual Plane is 4 bytes of UTF-8, each percent-encoded as 3 in a URL-encoded form, or a
# surrogate pair of two 6-character \uXXXX escapes in JSON.
MAX_ENCODED_BYTES_PER_CHARACTER = 12
# Everything in a form or JSON body besides its longest text: the other (short) fields, their
# names, the CSRF token, multipart boundaries and part headers.
FORM_OVERHEAD_BYTES = 16 * 1024


def form_body_max_bytes(longest_text_characters: int) -> int:
    """The largest body of a form or JSON document whose longest text field has that many characters."""
    return longest_text_characters * MAX_ENCODED_BYTES_PER_CHARACTER + FORM_OVERHEAD_BYTES


def _size(bytes_count: int) -> str:
    if bytes_count >= 1024 * 1024:
        return f"{bytes_count / (1024 * 1024):.1f} MB"
    return f"{bytes_count / 1024:.0f} KB"


class RequestBodyTooLarge(HTTPException):
    """413: the body passed ``max_bytes``; the connection is closed after the answer."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            413,
            detail=f"The request is larger than this address accepts ({_size(max_bytes)} at most).",
            headers={"Connection": "close"},
        )
        self.max_bytes = max_bytes


@dataclass(frozen=True)
class RouteBodyLimit:
    """The body limit of one route: its method, its path as routed (``/api/v1/listings/{listing_id}/images``)."""

    method: str
    path: str
    max_bytes: int


class RequestBodyLimit:
    """ASGI middleware: refuse a body over its route's limit (``routes``) or else ``default_max_bytes``."""

    def __init__(self, app: ASGIApp, *, default_max_bytes: int, routes: Sequence[RouteBodyLimit] = ()) -> None:
        self.app = app
        self.default_max_bytes = default_max_bytes
        self._routes: list[tuple[str, re.Pattern[str], int]] = [
            (route.method.upper(), compile_path(route.path)[0], route.max_bytes) for route in routes
        ]

    def max_bytes_for(self, method: str, path: str) -> int:
        for route_method, pattern, max_bytes in self._routes:
            if method == route_method and pattern.match(path):
                return max_bytes
        return self.default_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.max_bytes_for(scope["method"], scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > max_bytes:
            await self._refuse(scope, receive, send, RequestBodyTooLarge(max_bytes))
            return
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise RequestBodyTooLarge(max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except (RequestBodyTooLarge, BaseExceptionGroup) as exc:
            # Normally the app's handlers answered it; this is a read outside them (a task group
            # listening for a disconnect, say). Once an answer has started, only closing can tell.
            error = _body_too_large(exc)
            if error is None or started:
                raise
            await self._refuse(scope, receive, send, error)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, error: RequestBodyTooLarge) -> None:
        await http_error_response(Request(scope), error)(scope, receive, send)


def _body_too_large(exc: BaseException) -> RequestBodyTooLarge | None:
    """The ``RequestBodyTooLarge`` that ``exc`` is, or that an exception group holds and nothing else."""
    if isinstance(exc, BaseExceptionGroup):
        matched, rest = exc.split(RequestBodyTooLarge)
        if matched is None or rest is not None:
            return None
        return _body_too_large(matched.exceptions[0])
    return exc if isinstance(exc, RequestBodyTooLarge) else None


def _declared_length(scope: Scope) -> int | None:
    """The ``Content-Length`` the client declared; None if absent (the server refuses a malformed one)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
