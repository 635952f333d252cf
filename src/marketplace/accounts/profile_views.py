"""Account pages: overview and profile, change password, close the account."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from marketplace.accounts import services
from marketplace.accounts.auth import PageUser
from marketplace.accounts.models import Role, User
from marketplace.accounts.pages import NOTICES, cleared_cookie
from marketplace.accounts.signin import confirm_password
from marketplace.errors import MarketplaceError
from marketplace.monero.addresses import validate_address
from marketplace.web import routing
from marketplace.web.dependencies import ClientAddress, DbSession, SettingsDep
from marketplace.web.pages import FormText, attempt, form_page, notice_from, redirect

router = routing.router()


def _profile_form(user: User) -> dict[str, str]:
    return {"pgp_key": user.pgp_key or "", "payout_address": user.payout_address or ""}


@router.get("/account")
def overview(request: Request, user: PageUser) -> Response:
    context = {"user": user, "form": _profile_form(user), "notice": notice_from(request, NOTICES)}
    return form_page(request, "accounts/account.html", context)


@router.post("/account/profile")
def save_profile(
    request: Request, user: PageUser, settings: SettingsDep, pgp_key: FormText = "", payout_address: FormText = ""
) -> Response:
    """Save the PGP key and (vendors) the payout address; both are checked before either is saved."""
    errors: dict[str, str] = {}
    new_key: str | None = None
    new_address: str | None = user.payout_address
    try:
        new_key = services.check_pgp_key(pgp_key)
    except MarketplaceError as exc:
        errors["pgp_key"] = exc.message
    if user.role is Role.VENDOR:
        try:
            # An empty field means "no payout address yet"; anything else must be a real address.
            new_address = (
                validate_address(payout_address, settings.network, field="payout_address")
                if payout_address.strip()
                else None
            )
        except MarketplaceError as exc:
            errors["payout_address"] = exc.message
    if errors:
        form = {"pgp_key": pgp_key, "payout_address": payout_address}
        return form_page(request, "accounts/account.html", {"user": user, "form": form}, errors=errors)
    user.pgp_key = new_key
    user.payout_address = new_address
    return redirect("/account", notice="profile-saved")


@router.get("/account/password")
def password_form(request: Request, _user: PageUser) -> Response:
    return form_page(request, "accounts/password.html", {})


@router.post("/account/password")
def change_password(
    request: Request,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    address: ClientAddress,
    *,
    current_password: FormText = "",
    new_password: FormText = "",
) -> Response:
    """Change the password; every other sign-in and every API token is revoked, this sign-in stays."""
    keep_session_id = request.state.web_session.id

    def change() -> None:
        confirm_password(db, settings, user, current_password, client_address=address, field="current_password")
        services.change_password(db, user, new_password, keep_session_id=keep_session_id)

    refused = attempt(db, change)
    if isinstance(refused, MarketplaceError):
        return form_page(request, "accounts/password.html", {}, refused)
    return redirect("/account", notice="password-changed")


@router.get("/account/delete")
def delete_form(request: Request, _user: PageUser) -> Response:
    return form_page(request, "accounts/delete.html", {"form": {}})


@router.post("/account/delete")
def delete_account(
    request: Request,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    address: ClientAddress,
    *,
    password: FormText = "",
    confirm_username: FormText = "",
) -> Response:
    """Close the account (password and typed username required); signs out everywhere."""

    def close() -> None:
        confirm_password(db, settings, user, password, client_address=address)
        services.delete_account(db, user, confirm_username=confirm_username)

    refused = attempt(db, close)
    if isinstance(refused, MarketplaceError):
        return form_page(request, "accounts/delete.html", {"form": {"confirm_username": confirm_username}}, refused)
    return cleared_cookie(request, redirect("/login", notice="account-deleted"))
