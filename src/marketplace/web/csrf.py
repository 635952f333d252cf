"""CSRF protection for every form: a signed double-submit token, bound to the sign-in.

The browser holds a random ``mp_csrf`` cookie (HttpOnly, SameSite=Lax); each form carries
``csrf_token`` = HMAC(secret key, CSRF cookie and session cookie). A cross-site page can neither
read the cookies nor compute the HMAC, so it cannot forge the field. Because the session cookie
is part of it, a token taken before sign-in (or under another sign-in) does not work after it,
and the CSRF cookie itself is replaced at every sign-in (``rotate_csrf_cookie``). The sent token
is compared as bytes (``secret_compare.same_secret``): a malformed one is a mismatch (403),
never an error. API requests authenticate with bearer tokens, not cookies, and need no CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response

from marketplace.accounts.auth import SESSION_COOKIE
from marketplace.errors import Forbidden
from marketplace.secret_compare import same_secret
from marketplace.web.dependencies import settings_of

CSRF_COOKIE = "mp_csrf"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfFailed(Forbidden):
    code = "csrf_failed"

    def __init__(self) -> None:
        super().__init__("This form has expired or did not come from this site. Reload the page and try again.")


def _sign(request: Request, cookie_value: str) -> str:
    """HMAC of the CSRF cookie and the sign-in the request carries (none: empty)."""
    key = settings_of(request).secret_key_bytes
    session = request.cookies.get(SESSION_COOKIE, "")
    message = b"\x00".join((b"csrf", cookie_value.encode(), hashlib.sha256(session.encode()).digest()))
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token to put in a form's hidden ``csrf_token`` field for this browser and sign-in."""
    cookie_value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not cookie_value:
        cookie_value = secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = cookie_value
    return _sign(request, cookie_value)


def _set_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        value,
        httponly=True,
        samesite="lax",
        secure=not settings_of(request).is_development,
        path="/",
    )


def ensure_csrf_cookie(request: Request, response: Response) -> None:
    new_value = getattr(request.state, "new_csrf_cookie", None)
    if new_value:
        _set_cookie(request, response, new_value)


def rotate_csrf_cookie(request: Request, response: Response) -> None:
    """Give the browser a new CSRF cookie with ``response`` (at sign-in): every earlier token stops working."""
    _set_cookie(request, response, secrets.token_urlsafe(32))


async def verify_csrf(request: Request) -> AsyncIterator[None]:
    """FastAPI dependency for page routers: reject an unsafe request without a valid token.

    It parses the form (cached on the request for the handler) and closes its uploaded files'
    temporary files when the request is over, however it ended.
    """
    if request.method in _SAFE_METHODS:
        yield
        return
    form = await request.form()
    try:
        cookie_value = request.cookies.get(CSRF_COOKIE)
        sent = form.get(CSRF_FIELD)
        if not cookie_value or not isinstance(sent, str) or not same_secret(sent, _sign(request, cookie_value)):
            raise CsrfFailed
        yield
    finally:
        await form.close()
