"""HTML pages of the admin domain (they work with JavaScript disabled).

Every page needs an admin: others get the 403 page, the signed-out are sent to /login. An action
that succeeds redirects (303) back to the list it came from with a fixed notice code, so a reload
does not repeat it; one that fails shows the same list again with the message, the reason typed
kept, and the error's status (422, 403, 404 or 409).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from marketplace.accounts.auth import PageAdmin
from marketplace.accounts.models import AccountStatus, Role
from marketplace.admin import services
from marketplace.admin.models import ModerationKind
from marketplace.errors import MarketplaceError, NotFound
from marketplace.listings.models import ListingStatus
from marketplace.web.csrf import verify_csrf
from marketplace.web.dependencies import DbSession
from marketplace.web.templating import render

router = APIRouter(dependencies=[Depends(verify_csrf)])

FormText = Annotated[str, Form()]

KIND_LABELS = {
    ModerationKind.CREATE_ACCOUNT.value: "created account",
    ModerationKind.SUSPEND_ACCOUNT.value: "suspended account",
    ModerationKind.RESTORE_ACCOUNT.value: "restored account",
    ModerationKind.HIDE_LISTING.value: "hid listing",
    ModerationKind.RESTORE_LISTING.value: "restored listing",
}
_USER_NOTICES = {
    "suspended": "The account is suspended and signed out everywhere; the action is on the record.",
    "restored": "The account is active again; the action is on the record.",
    "created": "The account is created; give its owner the password through a safe channel.",
}
_LISTING_NOTICES = {
    "hidden": "The listing is hidden from everyone but its vendor and admins; the action is on the record.",
    "restored": "The listing is visible again (while its vendor keeps it active); the action is on the record.",
}


def _page_number(text: str) -> int:
    """A page number from a URL or form; anything else is the first page."""
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text[:8]) <= 1_000_000 else 1


def _target_id(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise NotFound("There is no such account or listing.")
    return int(text)


def _redirect(path: str, **params: Any) -> RedirectResponse:
    query = urlencode({key: value for key, value in params.items() if value not in ("", None, 1, False)})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


@router.get("/admin")
def dashboard_page(request: Request, admin: PageAdmin, db: DbSession) -> Response:
    del admin  # the dependency is the check
    summary = services.dashboard(db)
    return render(
        request,
        "admin/dashboard.html",
        {
            "summary": summary,
            "roles": [role.value for role in Role],
            "statuses": [status.value for status in AccountStatus],
            "listing_states": [ListingStatus.ACTIVE.value, ListingStatus.PAUSED.value, "hidden", "deleted"],
            "actions": summary.latest_actions,
            "listing_titles": services.listing_titles(db, summary.latest_actions),
            "kind_labels": KIND_LABELS,
        },
    )


# --- accounts ---------------------------------------------------------------------------------


def _users_page(
    request: Request,
    db: DbSession,
    *,
    q: str,
    page: int,
    notice: str | None = None,
    error: MarketplaceError | None = None,
    failed_user_id: int | None = None,
    reason: str = "",
) -> Response:
    result = services.search_accounts(db, q, page)
    context = {
        "q": "",  # the site-wide search box is for listings
        "account_query": q,
        "result": result,
        "notice": notice,
        "error_message": error.message if error else None,
        "failed_user_id": failed_user_id,
        "failed_field": error.field if error else None,
        "reason": reason,
    }
    return render(request, "admin/users.html", context, status_code=error.status_code if error else 200)


@router.get("/admin/users")
def users_page(
    request: Request,
    *,
    admin: PageAdmin,
    db: DbSession,
    q: str = "",
    page: str = "1",
    done: str = "",
) -> Response:
    del admin
    return _users_page(request, db, q=q[:100], page=_page_number(page), notice=_USER_NOTICES.get(done))


def _moderate_account(
    request: Request, admin: PageAdmin, db: DbSession, target: str, *, suspend: bool, reason: str, q: str, page: str
) -> Response:
    action = services.suspend_account if suspend else services.restore_account
    user_id = None
    try:
        # A service raises before it writes anything, so a failure leaves nothing to undo.
        user_id = _target_id(target)
        action(db, admin, user_id, reason)
    except MarketplaceError as exc:
        return _users_page(
            request, db, q=q[:100], page=_page_number(page), error=exc, failed_user_id=user_id, reason=reason
        )
    done = "suspended" if suspend else "restored"
    return _redirect("/admin/users", q=q[:100], page=_page_number(page), done=done)


@router.post("/admin/users/{user_id}/suspend")
def suspend_account_form(
    request: Request,
    user_id: str,
    *,
    admin: PageAdmin,
    db: DbSession,
    reason: FormText = "",
    q: FormText = "",
    page: FormText = "1",
) -> Response:
    return _moderate_account(request, admin, db, user_id, suspend=True, reason=reason, q=q, page=page)


@router.post("/admin/users/{user_id}/restore")
def restore_account_form(
    request: Request,
    user_id: str,
    *,
    admin: PageAdmin,
    db: DbSession,
    reason: FormText = "",
    q: FormText = "",
    page: FormText = "1",
) -> Response:
    return _moderate_account(request, admin, db, user_id, suspend=False, reason=reason, q=q, page=page)


def _new_user_page(
    request: Request, *, username: str = "", role: str = "", error: MarketplaceError | None = None
) -> Response:
    context = {
        "username": username,
        "role": role,
        "roles": [r.value for r in Role],
        "error_message": error.message if error else None,
        "failed_field": error.field if error else None,
    }
    return render(request, "admin/user_new.html", context, status_code=error.status_code if error else 200)


@router.get("/admin/users/new")
def new_user_page(request: Request, admin: PageAdmin) -> Response:
    del admin
    return _new_user_page(request)


@router.post("/admin/users/new")
def create_user_form(
    request: Request,
    *,
    admin: PageAdmin,
    db: DbSession,
    username: FormText = "",
    password: FormText = "",
    role: FormText = "",
) -> Response:
    try:
        user = services.create_account_as_admin(db, admin, username=username, password=password, role=role)
    except MarketplaceError as exc:
        return _new_user_page(request, username=username, role=role, error=exc)
    return _redirect("/admin/users", q=user.username, done="created")


# --- listings ---------------------------------------------------------------------------------


def _listings_page(
    request: Request,
    db: DbSession,
    *,
    hidden_only: bool,
    page: int,
    notice: str | None = None,
    error: MarketplaceError | None = None,
    failed_listing_id: int | None = None,
    reason: str = "",
) -> Response:
    result = services.all_listings(db, hidden_only=hidden_only, page=page)
    context = {
        "result": result,
        "hidden_only": hidden_only,
        "states": {listing.id: services.listing_state(listing) for listing in result.items},
        "notice": notice,
        "error_message": error.message if error else None,
        "failed_listing_id": failed_listing_id,
        "failed_field": error.field if error else None,
        "reason": reason,
    }
    return render(request, "admin/listings.html", context, status_code=error.status_code if error else 200)


@router.get("/admin/listings")
def listings_page(
    request: Request, *, admin: PageAdmin, db: DbSession, hidden: str = "", page: str = "1", done: str = ""
) -> Response:
    del admin
    notice = _LISTING_NOTICES.get(done)
    return _listings_page(request, db, hidden_only=bool(hidden), page=_page_number(page), notice=notice)


def _moderate_listing(
    request: Request,
    admin: PageAdmin,
    db: DbSession,
    target: str,
    *,
    hide: bool,
    reason: str,
    hidden: str,
    page: str,
) -> Response:
    action = services.hide_listing if hide else services.restore_listing
    listing_id = None
    try:
        listing_id = _target_id(target)
        action(db, admin, listing_id, reason)
    except MarketplaceError as exc:
        return _listings_page(
            request,
            db,
            hidden_only=bool(hidden),
            page=_page_number(page),
            error=exc,
            failed_listing_id=listing_id,
            reason=reason,
        )
    done = "hidden" if hide else "restored"
    return _redirect("/admin/listings", hidden="1" if hidden else "", page=_page_number(page), done=done)


@router.post("/admin/listings/{listing_id}/hide")
def hide_listing_form(
    request: Request,
    listing_id: str,
    *,
    admin: PageAdmin,
    db: DbSession,
    reason: FormText = "",
    hidden: FormText = "",
    page: FormText = "1",
) -> Response:
    return _moderate_listing(request, admin, db, listing_id, hide=True, reason=reason, hidden=hidden, page=page)


@router.post("/admin/listings/{listing_id}/restore")
def restore_listing_form(
    request: Request,
    listing_id: str,
    *,
    admin: PageAdmin,
    db: DbSession,
    reason: FormText = "",
    hidden: FormText = "",
    page: FormText = "1",
) -> Response:
    return _moderate_listing(request, admin, db, listing_id, hide=False, reason=reason, hidden=hidden, page=page)


# --- the record -------------------------------------------------------------------------------


@router.get("/admin/actions")
def moderation_record_page(request: Request, admin: PageAdmin, db: DbSession, page: str = "1") -> Response:
    del admin
    record = services.moderation_record(db, _page_number(page))
    return render(
        request,
        "admin/actions.html",
        {
            "result": record,
            "listing_titles": services.listing_titles(db, record.items),
            "kind_labels": KIND_LABELS,
        },
    )
