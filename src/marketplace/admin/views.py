"""HTML pages of the admin domain (they work with JavaScript disabled).

Every page needs an admin: others get the 403 page, the signed-out are sent to /login (the
services check the role again). An action that succeeds redirects (303) back to the list it
came from with a fixed ``?notice=`` code, so a reload does not repeat it. One that is refused
writes nothing (``attempt`` rolls the request's transaction back) and shows the same list again
with the message, the reason typed kept, and the error's status (422, 403, 404 or 409).

A page number that is not a whole number is 422; one beyond the last page is an empty page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from marketplace.accounts.auth import PageAdmin
from marketplace.accounts.models import AccountStatus, Role, User
from marketplace.admin import services
from marketplace.admin.models import ModerationKind
from marketplace.errors import MarketplaceError
from marketplace.listings.models import Listing
from marketplace.web import routing
from marketplace.web.csrf import verify_csrf
from marketplace.web.dependencies import DbSession
from marketplace.web.numbers import parse_id, parse_page
from marketplace.web.pages import FormText, attempt, form_page, notice_from, redirect
from marketplace.web.templating import render

router = routing.router(dependencies=[Depends(verify_csrf)])

KIND_LABELS = {
    ModerationKind.CREATE_ACCOUNT: "created account",
    ModerationKind.SUSPEND_ACCOUNT: "suspended account",
    ModerationKind.RESTORE_ACCOUNT: "restored account",
    ModerationKind.HIDE_LISTING: "hid listing",
    ModerationKind.RESTORE_LISTING: "restored listing",
}
USER_NOTICES = {
    "suspended": "The account is suspended and signed out everywhere; the action is on the record.",
    "restored": "The account is active again; the action is on the record.",
    "created": "The account is created; give its owner the password through a safe channel.",
}
LISTING_NOTICES = {
    "hidden": "The listing is hidden from everyone but its vendor and admins; the action is on the record.",
    "restored": "The listing is visible again (while its vendor keeps it active); the action is on the record.",
}
_MAX_QUERY_LENGTH = 100


@dataclass(frozen=True)
class Offer:
    """What a row of a list offers its admin: an action (``verb``, the last part of its URL) or why none."""

    verb: str | None = None
    note: str | None = None


def _account_offer(admin: User, user: User) -> Offer:
    if user.status is AccountStatus.DELETED:
        return Offer(note="deleted by its owner")
    if user.id == admin.id:
        return Offer(note="you")
    if user.status is AccountStatus.SUSPENDED:
        return Offer(verb="restore")
    if user.role is Role.ADMIN:
        return Offer(note="admins cannot suspend admins")
    return Offer(verb="suspend")


def _listing_offer(listing: Listing) -> Offer:
    state = services.listing_state(listing)
    if state is services.ListingState.DELETED:
        return Offer(note="deleted by its vendor")
    return Offer(verb="restore" if state is services.ListingState.HIDDEN else "hide")


@router.get("/admin")
def dashboard_page(request: Request, admin: PageAdmin, db: DbSession) -> Response:
    summary = services.dashboard(db, admin)
    return render(
        request,
        "admin/dashboard.html",
        {
            "summary": summary,
            "roles": list(Role),
            "statuses": list(AccountStatus),
            "listing_states": list(services.ListingState),
            "actions": summary.latest_actions,
            "listing_titles": services.listing_titles(db, admin, summary.latest_actions),
            "kind_labels": KIND_LABELS,
        },
    )


# --- accounts ---------------------------------------------------------------------------------


def _users_page(
    request: Request,
    db: DbSession,
    admin: User,
    *,
    q: str,
    page: int,
    error: MarketplaceError | None = None,
    failed_user_id: int | None = None,
    reason: str = "",
) -> Response:
    result = services.search_accounts(db, admin, q, page)
    context = {
        "q": "",  # the site-wide search box is for listings
        "account_query": q,
        "result": result,
        "offers": {user.id: _account_offer(admin, user) for user in result.items},
        "notice": notice_from(request, USER_NOTICES),
        "failed_user_id": failed_user_id,
        "reason": reason,
    }
    return form_page(request, "admin/users.html", context, error)


@router.get("/admin/users")
def users_page(request: Request, *, admin: PageAdmin, db: DbSession, q: str = "", page: str = "") -> Response:
    return _users_page(request, db, admin, q=q[:_MAX_QUERY_LENGTH], page=parse_page(page))


def _moderate_account(
    request: Request, admin: User, db: DbSession, target: str, *, suspend: bool, reason: str, q: str, page: str
) -> Response:
    action = services.suspend_account if suspend else services.restore_account
    query, page_number = q[:_MAX_QUERY_LENGTH], parse_page(page)
    try:
        user_id = parse_id(target, "account")
    except MarketplaceError as exc:
        return _users_page(request, db, admin, q=query, page=page_number, error=exc)
    outcome = attempt(db, lambda: action(db, admin, user_id, reason))
    if isinstance(outcome, MarketplaceError):
        return _users_page(
            request, db, admin, q=query, page=page_number, error=outcome, failed_user_id=user_id, reason=reason
        )
    return redirect("/admin/users", notice="suspended" if suspend else "restored", q=query, page=page_number)


@router.post("/admin/users/{user_id}/suspend")
def suspend_account_form(
    request: Request,
    user_id: str,
    *,
    admin: PageAdmin,
    db: DbSession,
    reason: FormText = "",
    q: FormText = "",
    page: FormText = "",
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
    page: FormText = "",
) -> Response:
    return _moderate_account(request, admin, db, user_id, suspend=False, reason=reason, q=q, page=page)


def _new_user_context(username: str = "", role: str = "") -> dict[str, Any]:
    return {"username": username, "role": role, "roles": list(Role)}


@router.get("/admin/users/new")
def new_user_page(request: Request, admin: PageAdmin) -> Response:
    del admin  # the dependency is the check: this page reads nothing
    return form_page(request, "admin/user_new.html", _new_user_context())


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
    outcome = attempt(
        db, lambda: services.create_account_as_admin(db, admin, username=username, password=password, role=role)
    )
    if isinstance(outcome, MarketplaceError):
        return form_page(request, "admin/user_new.html", _new_user_context(username, role), outcome)
    return redirect("/admin/users", notice="created", q=outcome.username)


# --- listings ---------------------------------------------------------------------------------


def _listings_page(
    request: Request,
    db: DbSession,
    admin: User,
    *,
    hidden_only: bool,
    page: int,
    error: MarketplaceError | None = None,
    failed_listing_id: int | None = None,
    reason: str = "",
) -> Response:
    result = services.all_listings(db, admin, hidden_only=hidden_only, page=page)
    context = {
        "result": result,
        "hidden_only": hidden_only,
        "states": {listing.id: services.listing_state(listing) for listing in result.items},
        "offers": {listing.id: _listing_offer(listing) for listing in result.items},
        "notice": notice_from(request, LISTING_NOTICES),
        "failed_listing_id": failed_listing_id,
        "reason": reason,
    }
    return form_page(request, "admin/listings.html", context, error)


@router.get("/admin/listings")
def listings_page(request: Request, *, admin: PageAdmin, db: DbSession, hidden: str = "", page: str = "") -> Response:
    return _listings_page(request, db, admin, hidden_only=bool(hidden), page=parse_page(page))


def _moderate_listing(
    request: Request, admin: User, db: DbSession, target: str, *, hide: bool, reason: str, hidden: str, page: str
) -> Response:
    action = services.hide_listing if hide else services.restore_listing
    hidden_only, page_number = bool(hidden), parse_page(page)
    try:
        listing_id = parse_id(target, "listing")
    except MarketplaceError as exc:
        return _listings_page(request, db, admin, hidden_only=hidden_only, page=page_number, error=exc)
    outcome = attempt(db, lambda: action(db, admin, listing_id, reason))
    if isinstance(outcome, MarketplaceError):
        return _listings_page(
            request,
            db,
            admin,
            hidden_only=hidden_only,
            page=page_number,
            error=outcome,
            failed_listing_id=listing_id,
            reason=reason,
        )
    notice = "hidden" if hide else "restored"
    return redirect("/admin/listings", notice=notice, hidden="1" if hidden_only else "", page=page_number)


@router.post("/admin/listings/{listing_id}/hide")
def hide_listing_form(
    request: Request,
    listing_id: str,
    *,
    admin: PageAdmin,
    db: DbSession,
    reason: FormText = "",
    hidden: FormText = "",
    page: FormText = "",
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
    page: FormText = "",
) -> Response:
    return _moderate_listing(request, admin, db, listing_id, hide=False, reason=reason, hidden=hidden, page=page)


# --- the record -------------------------------------------------------------------------------


@router.get("/admin/actions")
def moderation_record_page(request: Request, admin: PageAdmin, db: DbSession, page: str = "") -> Response:
    record = services.moderation_record(db, admin, parse_page(page))
    return render(
        request,
        "admin/actions.html",
        {
            "result": record,
            "listing_titles": services.listing_titles(db, admin, record.items),
            "kind_labels": KIND_LABELS,
        },
    )
