"""Account pages: overview and profile, change password, close the account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from starlette.requests import Request
from starlette.responses import Response

from marketplace.accounts import services
from marketplace.accounts.auth import DbSession, PageUser, client_address
from marketplace.accounts.models import Role, User
from marketplace.accounts.pages import cleared_cookie, form_page, notice_from, redirect
from marketplace.accounts.signin import confirm_password
from marketplace.errors import MarketplaceError
from marketplace.monero.addresses import validate_address

router = APIRouter()
FormText = Annotated[str, Form()]


def _profile_form(user: User) -> dict[str, str]:
    return {"pgp_key": user.pgp_key or "", "payout_address": user.payout_address or ""}


@router.get("/account")
def overview(request: Request, user: PageUser) -> Response:
    return form_page(
        request, "accounts/account.html", {"user": user, "form": _profile_form(user), "notice": notice_from(request)}
    )


@router.post("/account/profile")
def save_profile(request: Request, user: PageUser, pgp_key: FormText = "", payout_address: FormText = "") -> Response:
    """Save the PGP key and (vendors) the payout address; both are checked before either is saved."""
    errors: dict[str, str] = {}
    new_key: str | None = None
    new_address: str | None = user.payout_address
    try:
        new_key = services.check_pgp_key(pgp_key)
    except MarketplaceError as exc:
        errors["pgp_key"] = exc.message
    if user.role_enum is Role.VENDOR:
        try:
            # An empty field means "no payout address yet"; anything else must be a real address.
            new_address = (
                validate_address(payout_address, request.app.state.settings.network, field="payout_address")
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
    return redirect("/account?notice=profile-saved")


@router.get("/account/password")
def password_form(request: Request, _user: PageUser) -> Response:
    return form_page(request, "accounts/password.html", {})


@router.post("/account/password")
def change_password(
    request: Request, db: DbSession, user: PageUser, current_password: FormText = "", new_password: FormText = ""
) -> Response:
    """Change the password; every other sign-in and every API token is revoked, this sign-in stays."""
    try:
        confirm_password(
            db, request.app.state.settings, user, current_password,
            client_address=client_address(request), field="current_password",
        )  # fmt: skip
        services.change_password(db, user, new_password, keep_session_id=request.state.web_session.id)
    except MarketplaceError as exc:
        return form_page(request, "accounts/password.html", {}, exc)
    return redirect("/account?notice=password-changed")


@router.get("/account/delete")
def delete_form(request: Request, _user: PageUser) -> Response:
    return form_page(request, "accounts/delete.html", {"form": {}})


@router.post("/account/delete")
def delete_account(
    request: Request, db: DbSession, user: PageUser, password: FormText = "", confirm_username: FormText = ""
) -> Response:
    """Close the account (password and typed username required); signs out everywhere."""
    try:
        confirm_password(db, request.app.state.settings, user, password, client_address=client_address(request))
        services.delete_account(db, user, confirm_username=confirm_username)
    except MarketplaceError as exc:
        return form_page(request, "accounts/delete.html", {"form": {"confirm_username": confirm_username}}, exc)
    return cleared_cookie(request, redirect("/login?notice=account-deleted"))
