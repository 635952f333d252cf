"""One rule keeps private answers out of every cache: ``Cache-Control: no-store``.

An answer is private, and gets ``no-store`` (replacing any other cache directive), when

- the request carries a sign-in: the session cookie or an ``Authorization`` header (every
  ``/account/*`` and ``/admin/*`` page, the seller's pages, any page showing who is signed in,
  every authenticated API answer), whether or not the sign-in is still valid;
- the request is not a GET or HEAD: answers to writes carry new tokens (``POST
  /api/v1/tokens``, the token and recovery-code pages), or sign someone in;
- the answer sets a cookie (a session or CSRF cookie must never reach another browser from a
  shared cache).

The one exception is an answer that declares itself the same for everyone (``public``): a
listing's public image, the static files. A handler never has to remember this rule; a test
checks it on every route (``tests/web/test_private_pages.py``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.accounts.auth import SESSION_COOKIE

_SESSION_COOKIE_PREFIX = f"{SESSION_COOKIE}=".encode()
_SAFE_METHODS = frozenset({"GET", "HEAD"})
NO_STORE = b"no-store"


def _carries_sign_in(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return True
        if name == b"cookie" and any(part.strip().startswith(_SESSION_COOKIE_PREFIX) for part in value.split(b";")):
            return True
    return False


class PrivateResponsesMiddleware:
    """Pure ASGI middleware applying the rule above to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private_request = scope["method"] not in _SAFE_METHODS or _carries_sign_in(scope)

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                cache_control = b", ".join(value for name, value in headers if name.lower() == b"cache-control")
                sets_cookie = any(name.lower() == b"set-cookie" for name, _ in headers)
                if (private_request or sets_cookie) and b"public" not in cache_control.lower():
                    headers = [(name, value) for name, value in headers if name.lower() != b"cache-control"]
                    headers.append((b"cache-control", NO_STORE))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_private)
