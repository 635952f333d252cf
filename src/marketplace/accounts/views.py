"""HTML pages of the accounts domain (they work with JavaScript disabled).

This module holds registration, sign-in and sign-out, and gathers the account pages of
``profile_views`` and ``security_views`` under one router. Every route of it checks the CSRF
token of unsafe requests (``verify_csrf``).
"""

from __future__ import annotations

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from marketplace.accounts import profile_views, registration, security_views
from marketplace.accounts.auth import OptionalPageUser
from marketplace.accounts.pages import NOTICES, sign_in_response, sign_out_response
from marketplace.accounts.signin import authenticate
from marketplace.errors import MarketplaceError
from marketplace.web import routing
from marketplace.web.csrf import verify_csrf
from marketplace.web.dependencies import ClientAddress, DbSession, SettingsDep
from marketplace.web.pages import FormText, attempt, attempt_async, form_page, notice_from, safe_next

router = routing.router(dependencies=[Depends(verify_csrf)])


@router.get("/register")
def register_form(request: Request, _user: OptionalPageUser) -> Response:
    return form_page(request, "accounts/register.html", {"form": {"role": "buyer"}})


@router.post("/register")
def register(
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    address: ClientAddress,
    *,
    username: FormText = "",
    password: FormText = "",
    role: FormText = "",
) -> Response:
    """Create a buyer or vendor account and sign it in; the form again with the message otherwise.

    Too many accounts from this address within the window: 429 with ``Retry-After``.
    """
    user = attempt(
        db,
        lambda: registration.register(
            db, settings, username=username, password=password, role=role, client_address=address
        ),
    )
    if isinstance(user, MarketplaceError):
        return form_page(request, "accounts/register.html", {"form": {"username": username, "role": role}}, user)
    return sign_in_response(request, db, user, "/account?notice=welcome")


@router.get("/login")
def login_form(request: Request, _user: OptionalPageUser, next: str = "") -> Response:  # noqa: A002  (the query parameter's name)
    return form_page(
        request, "accounts/login.html", {"form": {"next": safe_next(next)}, "notice": notice_from(request, NOTICES)}
    )


@router.post("/login")
async def login(
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    address: ClientAddress,
    *,
    username: FormText = "",
    password: FormText = "",
    totp_code: FormText = "",
    next: FormText = "",  # noqa: A002  (the form field's name)
) -> Response:
    """Sign in with a new session id, then go to ``next`` if it is a path on this site.

    Wrong credentials: 401 with one message whether or not the username exists; a missing or
    wrong two-factor code: 401 naming that field; throttled: 429 with ``Retry-After``.
    """
    signed_in = await attempt_async(
        db,
        lambda: authenticate(
            db,
            settings,
            username=username,
            password=password,
            totp_code=totp_code,
            client_address=address,
            then=lambda user: sign_in_response(request, db, user, safe_next(next)),
        ),
    )
    if isinstance(signed_in, MarketplaceError):
        form = {"username": username, "next": safe_next(next)}
        return form_page(request, "accounts/login.html", {"form": form}, signed_in)
    return signed_in


@router.post("/logout")
def logout(request: Request, db: DbSession) -> Response:
    """Revoke this browser's sign-in (the row, not just the cookie) and clear the cookie."""
    return sign_out_response(request, db, "/login?notice=signed-out")


router.include_router(profile_views.router)
router.include_router(security_views.router)
