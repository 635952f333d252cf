"""JSON API of the admin domain, mounted under /api/v1 (admins only: others get 403, anonymous 401)."""

from __future__ import annotations

from marketplace.accounts.auth import ApiAdmin
from marketplace.admin import services
from marketplace.admin.schemas import (
    AccountSummaryOut,
    ListingSummaryOut,
    ModerationActionOut,
    ModerationRecordOut,
    NewAccountIn,
    ReasonIn,
)
from marketplace.web import routing
from marketplace.web.dependencies import DbSession
from marketplace.web.numbers import AccountId, ListingId, PageNumber

router = routing.router(prefix="/admin", tags=["admin"])

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "No valid API token."},
    403: {"description": "Not an admin, or the action is not allowed on this account."},
    404: {"description": "No such account or listing."},
    409: {"description": "The target is already in that state (the body's `state` says which) or deleted."},
    422: {"description": "Missing or invalid input (the body's `field` names it)."},
}


@router.post("/users/{user_id}/suspend", responses=_ERRORS, summary="Suspend an account")
def suspend_account(user_id: AccountId, body: ReasonIn, admin: ApiAdmin, db: DbSession) -> AccountSummaryOut:
    """Suspend an account: it is signed out everywhere and its API tokens stop working."""
    return AccountSummaryOut.of(services.suspend_account(db, admin, user_id, body.reason))


@router.post("/users/{user_id}/restore", responses=_ERRORS, summary="Restore a suspended account")
def restore_account(user_id: AccountId, body: ReasonIn, admin: ApiAdmin, db: DbSession) -> AccountSummaryOut:
    """Make a suspended account active again."""
    return AccountSummaryOut.of(services.restore_account(db, admin, user_id, body.reason))


@router.post("/users", status_code=201, responses=_ERRORS, summary="Create an account of any role")
def create_account(body: NewAccountIn, admin: ApiAdmin, db: DbSession) -> AccountSummaryOut:
    """Create an account of any role: buyer, vendor, arbiter or admin."""
    user = services.create_account_as_admin(db, admin, username=body.username, password=body.password, role=body.role)
    return AccountSummaryOut.of(user)


@router.post("/listings/{listing_id}/hide", responses=_ERRORS, summary="Hide a listing")
def hide_listing(listing_id: ListingId, body: ReasonIn, admin: ApiAdmin, db: DbSession) -> ListingSummaryOut:
    """Hide a listing from everyone but its vendor and admins."""
    return ListingSummaryOut.of(services.hide_listing(db, admin, listing_id, body.reason))


@router.post("/listings/{listing_id}/restore", responses=_ERRORS, summary="Show a hidden listing again")
def restore_listing(listing_id: ListingId, body: ReasonIn, admin: ApiAdmin, db: DbSession) -> ListingSummaryOut:
    """Show a hidden listing again."""
    return ListingSummaryOut.of(services.restore_listing(db, admin, listing_id, body.reason))


@router.get("/actions", responses=_ERRORS, summary="The moderation record")
def moderation_record(admin: ApiAdmin, db: DbSession, page: PageNumber = 1) -> ModerationRecordOut:
    """The moderation record, newest first: who did what to which account or listing, when and why."""
    record = services.moderation_record(db, admin, page)
    return ModerationRecordOut(
        items=[ModerationActionOut.of(action) for action in record.items], total=record.total, page=record.page
    )
