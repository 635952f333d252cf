"""What the accounts pages share: the session cookie (sign-in, sign-out) and their notices."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from marketplace.accounts.auth import SESSION_COOKIE
from marketplace.accounts.models import User, WebSession
from marketplace.accounts.sessions import hash_token, start_web_session
from marketplace.db.base import utcnow
from marketplace.web.csrf import rotate_csrf_cookie
from marketplace.web.dependencies import client_address, settings_of
from marketplace.web.pages import redirect

# Messages shown after a redirect (POST, then redirect, then GET), chosen by a short key so that
# a link cannot make the site display text of an attacker's choosing.
NOTICES = {
    "welcome": "Welcome! Your account is ready.",
    "profile-saved": "Your profile is saved.",
    "password-changed": "Your password is changed. Every other sign-in and every API token was revoked.",
    "two-factor-on": "Two-factor sign-in is on.",
    "two-factor-off": "Two-factor sign-in is off.",
    "two-factor-reset": "Two-factor sign-in is off and that recovery code is used up. Sign in, then set it up again.",
    "enrolment-cancelled": "Two-factor set-up cancelled.",
    "session-revoked": "That sign-in is revoked.",
    "token-revoked": "That API token is revoked.",
    "signed-out": "You are signed out.",
    "account-deleted": "Your account is closed. Goodbye.",
}


def _cookie_options(request: Request) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": not settings_of(request).is_development,
        "path": "/",
    }


def _revoke_cookie_session(request: Request, db: Session) -> None:
    """Revoke the sign-in the browser's cookie names, if any (whoever it belongs to)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        db.execute(
            update(WebSession)
            .where(WebSession.token_hash == hash_token(token), WebSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def sign_in_response(request: Request, db: Session, user: User, location: str) -> Response:
    """Redirect to ``location`` with new sign-in and CSRF cookies; the browser's old sign-in is revoked."""
    _revoke_cookie_session(request, db)
    settings = settings_of(request)
    token = start_web_session(
        db, user, settings, client_address=client_address(request), user_agent=request.headers.get("user-agent")
    )
    response = redirect(location)
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_max_age_seconds, **_cookie_options(request))
    rotate_csrf_cookie(request, response)  # forms from before the sign-in stop working
    return response


def sign_out_response(request: Request, db: Session, location: str) -> Response:
    """Revoke the browser's sign-in, clear its cookie and redirect to ``location``."""
    _revoke_cookie_session(request, db)
    return cleared_cookie(request, redirect(location))


def cleared_cookie(request: Request, response: Response) -> Response:
    response.delete_cookie(SESSION_COOKIE, **_cookie_options(request))
    return response
