"""Account pages: overview and profile, change password, close the account."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from marketplace.accounts import services
from marketplace.accounts.auth import PageUser
from marketplace.accounts.confirmation import confirm_identity
from marketplace.accounts.models import Role, User
from marketplace.accounts.pages import NOTICES, cleared_cookie, sign_in_response
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
    request: Request,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    address: ClientAddress,
    *,
    pgp_key: FormText = "",
    payout_address: FormText = "",
    password: FormText = "",
    totp_code: FormText = "",
) -> Response:
    """Save the PGP key and (vendors) the payout address; both are checked before either is saved.

    Asks who you are (password, and the code when two-factor is on) once both fields are valid.
    """
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
    form = {"pgp_key": pgp_key, "payout_address": payout_address}
    if errors:
        return form_page(request, "accounts/account.html", {"user": user, "form": form}, errors=errors)

    def save() -> None:
        user.pgp_key = new_key
        user.payout_address = new_address

    refused = attempt(
        db,
        lambda: confirm_identity(
            db, settings, user, password=password, totp_code=totp_code, client_address=address, then=save
        ),
    )
    if isinstance(refused, MarketplaceError):
        return form_page(request, "accounts/account.html", {"user": user, "form": form}, refused)
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
    totp_code: FormText = "",
) -> Response:
    """Change the password (the current one, and the code when two-factor is on, confirm who is asking).

    Every sign-in and every API token is revoked, this one too: the person who made the change
    gets a brand-new sign-in (a fresh session id), so a copy of their old cookie stops working.
    """
    refused = attempt(
        db,
        lambda: confirm_identity(
            db,
            settings,
            user,
            password=current_password,
            totp_code=totp_code,
            client_address=address,
            then=lambda: services.change_password(db, user, new_password),
            password_field="current_password",  # noqa: S106  (a form field's name, not a secret)
        ),
    )
    if isinstance(refused, MarketplaceError):
        return form_page(request, "accounts/password.html", {}, refused)
    return sign_in_response(request, db, user, "/account?notice=password-changed")


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
    totp_code: FormText = "",
    confirm_username: FormText = "",
) -> Response:
    """Close the account (password, the code when two-factor is on, and the typed username); signs out everywhere."""
    refused = attempt(
        db,
        lambda: confirm_identity(
            db,
            settings,
            user,
            password=password,
            totp_code=totp_code,
            client_address=address,
            then=lambda: services.delete_account(db, user, confirm_username=confirm_username),
        ),
    )
    if isinstance(refused, MarketplaceError):
        return form_page(request, "accounts/delete.html", {"form": {"confirm_username": confirm_username}}, refused)
    return cleared_cookie(request, redirect("/login", notice="account-deleted"))
