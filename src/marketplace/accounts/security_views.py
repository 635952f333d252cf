"""Account pages about access: two-factor sign-in (and its reset), sign-ins, API tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from starlette.requests import Request
from starlette.responses import Response

from marketplace.accounts import credentials, totp, twofactor
from marketplace.accounts.auth import DbSession, OptionalPageUser, PageUser, client_address
from marketplace.accounts.models import User
from marketplace.accounts.pages import cleared_cookie, form_page, no_store, notice_from, redirect
from marketplace.accounts.sessions import revoke_web_session
from marketplace.errors import InvalidInput, MarketplaceError, NotFound

router = APIRouter()
FormText = Annotated[str, Form()]
TWO_FACTOR_PAGE = "accounts/two_factor.html"


def _two_factor_context(user: User) -> dict[str, Any]:
    context: dict[str, Any] = {"user": user}
    if user.totp_secret is not None and not user.totp_enabled:
        context["secret"] = totp.grouped_secret(user.totp_secret)
        context["qr_svg"] = totp.qr_svg(totp.provisioning_uri(user.totp_secret, user.username))
    return context


@router.get("/account/two-factor")
def two_factor(request: Request, user: PageUser) -> Response:
    """Two-factor status: off (offer set-up), set-up pending (QR code, secret, code to confirm) or on."""
    context = {**_two_factor_context(user), "notice": notice_from(request)}
    return no_store(form_page(request, TWO_FACTOR_PAGE, context))


@router.post("/account/two-factor")
def two_factor_action(
    request: Request,
    db: DbSession,
    user: PageUser,
    *,
    action: FormText = "",
    totp_code: FormText = "",
    password: FormText = "",
) -> Response:
    """``action``: ``enrol`` (new secret), ``verify`` (turn on; recovery codes shown once),
    ``cancel`` (drop a pending set-up) or ``disable`` (needs a current code or the password)."""
    try:
        if action == "enrol":
            twofactor.start_enrolment(user)
            return redirect("/account/two-factor")
        if action == "verify":
            codes = twofactor.confirm_enrolment(db, user, totp_code)
            return no_store(form_page(request, TWO_FACTOR_PAGE, {"user": user, "recovery_codes": codes}))
        if action == "cancel":
            twofactor.cancel_enrolment(user)
            return redirect("/account/two-factor?notice=enrolment-cancelled")
        if action == "disable":
            twofactor.disable(
                db,
                request.app.state.settings,
                user,
                totp_code=totp_code,
                password=password,
                client_address=client_address(request),
            )
            return redirect("/account/two-factor?notice=two-factor-off")
        raise InvalidInput("Unknown action; use the buttons on this page.")
    except MarketplaceError as exc:
        return form_page(request, TWO_FACTOR_PAGE, _two_factor_context(user), exc)


@router.get("/account/two-factor/reset")
def reset_form(request: Request, _user: OptionalPageUser) -> Response:
    return form_page(request, "accounts/two_factor_reset.html", {"form": {}})


@router.post("/account/two-factor/reset")
def reset_two_factor(
    request: Request, db: DbSession, username: FormText = "", password: FormText = "", recovery_code: FormText = ""
) -> Response:
    """Lost the device: username, password and one recovery code turn two-factor off (code used up)."""
    try:
        twofactor.reset_with_recovery_code(
            db,
            request.app.state.db,
            request.app.state.settings,
            username=username,
            password=password,
            recovery_code=recovery_code,
            client_address=client_address(request),
        )
    except MarketplaceError as exc:
        return form_page(request, "accounts/two_factor_reset.html", {"form": {"username": username}}, exc)
    return redirect("/login?notice=two-factor-reset")


@router.get("/account/sessions")
def sessions(request: Request, db: DbSession, user: PageUser) -> Response:
    live = credentials.live_web_sessions(db, user, request.app.state.settings)
    context = {"sessions": live, "current_id": request.state.web_session.id, "notice": notice_from(request)}
    return form_page(request, "accounts/sessions.html", context)


@router.post("/account/sessions/{session_id}/revoke")
def revoke_session(request: Request, db: DbSession, user: PageUser, session_id: int) -> Response:
    """Revoke one of your sign-ins; revoking this one signs this browser out."""
    if not revoke_web_session(db, session_id, user.id):
        raise NotFound("There is no such sign-in among yours.")
    if session_id == request.state.web_session.id:
        return cleared_cookie(request, redirect("/login?notice=signed-out"))
    return redirect("/account/sessions?notice=session-revoked")


@router.get("/account/tokens")
def tokens(request: Request, db: DbSession, user: PageUser) -> Response:
    context: dict[str, Any] = {"tokens": credentials.live_api_tokens(db, user), "form": {}}
    context["notice"] = notice_from(request)
    return form_page(request, "accounts/tokens.html", context)


@router.post("/account/tokens")
def create_token(request: Request, db: DbSession, user: PageUser, name: FormText = "") -> Response:
    """Create an API token and show it this once (only its hash is kept)."""
    try:
        token = credentials.create_api_token(db, user, name)
    except MarketplaceError as exc:
        context = {"tokens": credentials.live_api_tokens(db, user), "form": {"name": name}}
        return form_page(request, "accounts/tokens.html", context, exc)
    context = {"tokens": credentials.live_api_tokens(db, user), "form": {}, "new_token": token, "new_name": name}
    return no_store(form_page(request, "accounts/tokens.html", context))


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(db: DbSession, user: PageUser, token_id: int) -> Response:
    credentials.revoke_api_token(db, user, token_id)
    return redirect("/account/tokens?notice=token-revoked")
