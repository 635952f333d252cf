"""Pieces every accounts page shares: the session cookie, safe redirects, form errors and notices."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from marketplace.accounts.auth import SESSION_COOKIE, client_address
from marketplace.accounts.models import User, WebSession
from marketplace.accounts.sessions import hash_token, start_web_session
from marketplace.db.base import utcnow
from marketplace.errors import MarketplaceError
from marketplace.web.templating import render

_MAX_NEXT_LENGTH = 2000

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


def notice_from(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirect to another host)."""
    if (
        not target
        or len(target) > _MAX_NEXT_LENGTH
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        # Browsers drop tabs and newlines inside URLs, which would turn "/\t/evil" into "//evil".
        or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target)
    ):
        return "/"
    return target


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def _cookie_options(request: Request) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": not request.app.state.settings.is_development,
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
    """Redirect to ``location`` with a brand-new sign-in cookie; the browser's old sign-in is revoked."""
    _revoke_cookie_session(request, db)
    settings = request.app.state.settings
    token = start_web_session(
        db, user, settings, client_address=client_address(request), user_agent=request.headers.get("user-agent")
    )
    response = redirect(location)
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_max_age_seconds, **_cookie_options(request))
    return response


def sign_out_response(request: Request, db: Session, location: str) -> Response:
    """Revoke the browser's sign-in, clear its cookie and redirect to ``location``."""
    _revoke_cookie_session(request, db)
    return cleared_cookie(request, redirect(location))


def cleared_cookie(request: Request, response: Response) -> Response:
    response.delete_cookie(SESSION_COOKIE, **_cookie_options(request))
    return response


def form_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    error: MarketplaceError | None = None,
    *,
    errors: dict[str, str] | None = None,
    status_code: int | None = None,
) -> HTMLResponse:
    """Render a form page; with ``error`` (or ``errors``) show the message(s) next to the field(s).

    The status is the error's (422, 409, 401, 429 ...) and a throttled answer says when to retry.
    """
    field_errors = dict(errors or {})
    page_context = {"errors": field_errors, **context}
    code = status_code or 200
    if error is not None:
        code = error.status_code
        if error.field:
            field_errors[error.field] = error.message
        else:
            page_context["error_message"] = error.message
    elif field_errors:
        code = status_code or 422
    response = render(request, template, page_context, status_code=code)
    retry_after = getattr(error, "retry_after_seconds", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def no_store(response: Response) -> Response:
    """Keep a page that shows a secret (new token, recovery codes, two-factor secret) out of caches."""
    response.headers["Cache-Control"] = "no-store"
    return response
