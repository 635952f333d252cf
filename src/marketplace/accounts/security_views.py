"""Account pages about access: two-factor sign-in (and its reset), sign-ins, API tokens."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from marketplace.accounts import credentials, totp, twofactor
from marketplace.accounts.auth import OptionalPageUser, PageUser
from marketplace.accounts.confirmation import confirm_identity
from marketplace.accounts.models import User
from marketplace.accounts.pages import NOTICES, cleared_cookie
from marketplace.accounts.sessions import revoke_web_session
from marketplace.errors import InvalidInput, MarketplaceError, NotFound
from marketplace.settings import Settings
from marketplace.web import routing
from marketplace.web.dependencies import ClientAddress, DbSession, SettingsDep
from marketplace.web.numbers import parse_id
from marketplace.web.pages import FormText, attempt, attempt_async, form_page, notice_from, redirect

router = routing.router()
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
    context = {**_two_factor_context(user), "notice": notice_from(request, NOTICES)}
    return form_page(request, TWO_FACTOR_PAGE, context)


def _two_factor_action(
    db: DbSession, settings: Settings, user: User, *, action: str, totp_code: str, password: str, address: str
) -> Response | list[str]:
    """Carry out one two-factor action: a redirect, or the recovery codes to show once."""
    if action == "enrol":
        twofactor.start_enrolment(db, user)
        return redirect("/account/two-factor")
    if action == "verify":
        return twofactor.turn_on(db, settings, user, password=password, totp_code=totp_code, client_address=address)
    if action == "cancel":
        twofactor.cancel_enrolment(db, user)
        return redirect("/account/two-factor", notice="enrolment-cancelled")
    if action == "disable":
        twofactor.disable(db, settings, user, totp_code=totp_code, password=password, client_address=address)
        return redirect("/account/two-factor", notice="two-factor-off")
    raise InvalidInput("Unknown action; use the buttons on this page.")


@router.post("/account/two-factor")
def two_factor_action(
    request: Request,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    address: ClientAddress,
    *,
    action: FormText = "",
    totp_code: FormText = "",
    password: FormText = "",
) -> Response:
    """``action``: ``enrol`` (new secret), ``verify`` (turn on with a code from the app and the
    password; recovery codes shown once), ``cancel`` (drop a pending set-up) or ``disable`` (the
    password and a current code)."""
    outcome = attempt(
        db,
        lambda: _two_factor_action(
            db, settings, user, action=action, totp_code=totp_code, password=password, address=address
        ),
    )
    if isinstance(outcome, MarketplaceError):
        return form_page(request, TWO_FACTOR_PAGE, _two_factor_context(user), outcome)
    if isinstance(outcome, list):
        return form_page(request, TWO_FACTOR_PAGE, {"user": user, "recovery_codes": outcome})
    return outcome


@router.get("/account/two-factor/reset")
def reset_form(request: Request, _user: OptionalPageUser) -> Response:
    return form_page(request, "accounts/two_factor_reset.html", {"form": {}})


@router.post("/account/two-factor/reset")
async def reset_two_factor(
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    address: ClientAddress,
    *,
    username: FormText = "",
    password: FormText = "",
    recovery_code: FormText = "",
) -> Response:
    """Lost the device: username, password and one recovery code turn two-factor off (code used up)."""
    outcome = await attempt_async(
        db,
        lambda: twofactor.reset_with_recovery_code(
            db, settings, username=username, password=password, recovery_code=recovery_code, client_address=address
        ),
    )
    if isinstance(outcome, MarketplaceError):
        return form_page(request, "accounts/two_factor_reset.html", {"form": {"username": username}}, outcome)
    return redirect("/login", notice="two-factor-reset")


@router.get("/account/sessions")
def sessions(request: Request, db: DbSession, user: PageUser, settings: SettingsDep) -> Response:
    live = credentials.live_web_sessions(db, user, settings)
    context = {"sessions": live, "current_id": request.state.web_session.id, "notice": notice_from(request, NOTICES)}
    return form_page(request, "accounts/sessions.html", context)


@router.post("/account/sessions/{session_id}/revoke")
def revoke_session(request: Request, db: DbSession, user: PageUser, session_id: str) -> Response:
    """Revoke one of your sign-ins; revoking this one signs this browser out."""
    number = parse_id(session_id, "sign-in")
    if not revoke_web_session(db, number, user.id):
        raise NotFound("There is no such sign-in among yours.")
    if number == request.state.web_session.id:
        return cleared_cookie(request, redirect("/login", notice="signed-out"))
    return redirect("/account/sessions", notice="session-revoked")


@router.get("/account/tokens")
def tokens(request: Request, db: DbSession, user: PageUser) -> Response:
    context: dict[str, Any] = {"tokens": credentials.live_api_tokens(db, user), "form": {}}
    context["notice"] = notice_from(request, NOTICES)
    return form_page(request, "accounts/tokens.html", context)


@router.post("/account/tokens")
def create_token(
    request: Request,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    address: ClientAddress,
    *,
    name: FormText = "",
    password: FormText = "",
    totp_code: FormText = "",
) -> Response:
    """Create an API token and show it this once (only its hash is kept).

    Asks who you are (password, and the code when two-factor is on); the name is checked first.
    """

    def create() -> str:
        credentials.check_token_name(name)
        return confirm_identity(
            db,
            settings,
            user,
            password=password,
            totp_code=totp_code,
            client_address=address,
            then=lambda: credentials.create_api_token(db, user, name),
        )

    token = attempt(db, create)
    if isinstance(token, MarketplaceError):
        context = {"tokens": credentials.live_api_tokens(db, user), "form": {"name": name}}
        return form_page(request, "accounts/tokens.html", context, token)
    context = {"tokens": credentials.live_api_tokens(db, user), "form": {}, "new_token": token, "new_name": name}
    return form_page(request, "accounts/tokens.html", context)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(db: DbSession, user: PageUser, token_id: str) -> Response:
    credentials.revoke_api_token(db, user, parse_id(token_id, "API token"))
    return redirect("/account/tokens", notice="token-revoked")
