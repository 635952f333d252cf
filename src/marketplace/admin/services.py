"""Moderation: suspending and restoring accounts, hiding and restoring listings, and the record.

Every action needs a reason and writes one ``ModerationAction`` row in the caller's transaction,
the same one that changes the account or listing, so the record can never miss a change nor
show one that did not happen. The change itself is a conditional UPDATE (``... WHERE status =
'active'``): two admins acting at once cannot both succeed, the second gets a ``Conflict``.

Services raise domain errors and never commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from marketplace.accounts.models import AccountStatus, Role, User
from marketplace.accounts.services import create_account
from marketplace.accounts.sessions import revoke_all_credentials
from marketplace.admin.models import ModerationAction, ModerationKind
from marketplace.db.base import utcnow
from marketplace.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.listings.models import Listing, ListingStatus

log = logging.getLogger("marketplace.admin")
T = TypeVar("T")

MAX_REASON_LENGTH = 1000
ADMIN_PAGE_SIZE = 50


def check_reason(reason: str | None) -> str:
    """The reason, trimmed; ``InvalidInput`` (field ``reason``) if empty or longer than 1000 characters."""
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("Give a reason: it goes on the moderation record.", field="reason")
    if len(text) > MAX_REASON_LENGTH:
        raise InvalidInput(
            f"The reason must be at most {MAX_REASON_LENGTH} characters (it has {len(text)}).", field="reason"
        )
    return text


def _record(
    db: Session,
    admin: User,
    kind: ModerationKind,
    reason: str,
    *,
    user_id: int | None = None,
    listing_id: int | None = None,
) -> ModerationAction:
    action = ModerationAction(
        actor_id=admin.id,
        kind=kind.value,
        target_user_id=user_id,
        target_listing_id=listing_id,
        reason=reason,
        created_at=utcnow(),
    )
    db.add(action)
    db.flush()
    log.info(
        "moderation_action",
        extra={"kind": kind.value, "actor_id": admin.id, "user_id": user_id, "listing_id": listing_id},
    )
    return action


# --- accounts ---------------------------------------------------------------------------------


def _account(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no account with id {user_id}.")
    return user


def _account_conflict(user: User, wanted: AccountStatus) -> Conflict:
    if user.status == AccountStatus.DELETED:
        return Conflict(f"{user.username} deleted their account; it cannot be changed.", state=user.status)
    return Conflict(f"{user.username} is already {wanted.value}.", state=user.status)


def _set_account_status(db: Session, user: User, *, expected: AccountStatus, new: AccountStatus) -> None:
    if user.status != expected:
        raise _account_conflict(user, new)
    result = db.execute(
        update(User)
        .where(User.id == user.id, User.status == expected.value)
        .values(status=new.value)
        .execution_options(synchronize_session="fetch")
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        # Another admin (or the user deleting their account) got there first.
        db.refresh(user)
        raise _account_conflict(user, new)


def suspend_account(db: Session, admin: User, user_id: int, reason: str | None) -> User:
    """Suspend an active account and sign it out everywhere (sessions and API tokens).

    Raises ``InvalidInput`` (reason), ``NotFound``, ``Forbidden`` (the admin themselves or another
    admin) or ``Conflict`` (state ``suspended`` or ``deleted``).
    """
    text = check_reason(reason)
    user = _account(db, user_id)
    if user.id == admin.id:
        raise Forbidden("You cannot suspend your own account: you would lock yourself out.")
    if user.role == Role.ADMIN:
        raise Forbidden(
            f"{user.username} is an admin; admins cannot suspend each other, so that no single admin "
            "can lock the others out."
        )
    _set_account_status(db, user, expected=AccountStatus.ACTIVE, new=AccountStatus.SUSPENDED)
    revoke_all_credentials(db, user.id)
    _record(db, admin, ModerationKind.SUSPEND_ACCOUNT, text, user_id=user.id)
    return user


def restore_account(db: Session, admin: User, user_id: int, reason: str | None) -> User:
    """Make a suspended account active again (it signs in afresh: its old sign-ins stay revoked).

    Raises ``InvalidInput`` (reason), ``NotFound`` or ``Conflict`` (state ``active`` or ``deleted``).
    """
    text = check_reason(reason)
    user = _account(db, user_id)
    _set_account_status(db, user, expected=AccountStatus.SUSPENDED, new=AccountStatus.ACTIVE)
    _record(db, admin, ModerationKind.RESTORE_ACCOUNT, text, user_id=user.id)
    return user


def create_account_as_admin(db: Session, admin: User, *, username: str, password: str, role: str) -> User:
    """Create an active account of any role (arbiters and admins can only be made this way or by the CLI).

    Raises ``InvalidInput`` (username, password, role) or ``Conflict`` (username taken).
    """
    try:
        chosen = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput(f"Choose a role: {allowed}.", field="role") from None
    user = create_account(db, username=username, password=password, role=chosen)
    _record(db, admin, ModerationKind.CREATE_ACCOUNT, f"Created as {chosen.value} by an admin.", user_id=user.id)
    return user


# --- listings ---------------------------------------------------------------------------------


def _listing(db: Session, listing_id: int) -> Listing:
    listing = db.get(Listing, listing_id)
    if listing is None:
        raise NotFound(f"There is no listing with id {listing_id}.")
    return listing


def listing_state(listing: Listing) -> str:
    """What an admin sees: ``deleted``, ``hidden``, else the vendor's status (``active``, ``paused``)."""
    if listing.status == ListingStatus.DELETED:
        return ListingStatus.DELETED.value
    if listing.hidden_at is not None:
        return "hidden"
    return listing.status


def _listing_conflict(listing: Listing, *, hiding: bool) -> Conflict:
    state = listing_state(listing)
    if state == ListingStatus.DELETED:
        return Conflict("The vendor deleted this listing; it cannot be changed.", state=state)
    if hiding:
        return Conflict("This listing is already hidden.", state=state)
    return Conflict("This listing is not hidden.", state=state)


def _set_hidden(db: Session, listing: Listing, *, hide: bool) -> None:
    if listing.status == ListingStatus.DELETED or (listing.hidden_at is not None) == hide:
        raise _listing_conflict(listing, hiding=hide)
    condition = Listing.hidden_at.is_(None) if hide else Listing.hidden_at.is_not(None)
    result = db.execute(
        update(Listing)
        .where(Listing.id == listing.id, Listing.status != ListingStatus.DELETED.value, condition)
        # Moderation is not an edit by the vendor: keep updated_at as it was.
        .values(hidden_at=utcnow() if hide else None, updated_at=Listing.updated_at)
        .execution_options(synchronize_session="fetch")
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        db.refresh(listing)
        raise _listing_conflict(listing, hiding=hide)
    db.refresh(listing)


def hide_listing(db: Session, admin: User, listing_id: int, reason: str | None) -> Listing:
    """Hide a listing from everyone but its vendor and admins.

    Raises ``InvalidInput`` (reason), ``NotFound`` or ``Conflict`` (state ``hidden`` or ``deleted``).
    """
    text = check_reason(reason)
    listing = _listing(db, listing_id)
    _set_hidden(db, listing, hide=True)
    _record(db, admin, ModerationKind.HIDE_LISTING, text, listing_id=listing.id)
    return listing


def restore_listing(db: Session, admin: User, listing_id: int, reason: str | None) -> Listing:
    """Show a hidden listing again (if its vendor has it active).

    Raises ``InvalidInput`` (reason), ``NotFound`` or ``Conflict`` (state ``active``, ``paused`` or ``deleted``).
    """
    text = check_reason(reason)
    listing = _listing(db, listing_id)
    _set_hidden(db, listing, hide=False)
    _record(db, admin, ModerationKind.RESTORE_LISTING, text, listing_id=listing.id)
    return listing


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _offset(page: int, page_size: int) -> int:
    return (max(page, 1) - 1) * page_size


def moderation_record(db: Session, page: int = 1, page_size: int = ADMIN_PAGE_SIZE) -> Page[ModerationAction]:
    """The moderation record, newest first."""
    total = db.scalar(select(func.count()).select_from(ModerationAction)) or 0
    items = db.scalars(
        select(ModerationAction)
        .order_by(ModerationAction.created_at.desc(), ModerationAction.id.desc())
        .offset(_offset(page, page_size))
        .limit(page_size)
    ).all()
    return Page(list(items), total, page, page_size)


def search_accounts(db: Session, query: str = "", page: int = 1, page_size: int = ADMIN_PAGE_SIZE) -> Page[User]:
    """Accounts whose username contains ``query`` (any case), oldest first."""
    condition = User.username_key.contains(query.strip().lower(), autoescape=True)
    total = db.scalar(select(func.count()).select_from(User).where(condition)) or 0
    items = db.scalars(
        select(User).where(condition).order_by(User.id).offset(_offset(page, page_size)).limit(page_size)
    ).all()
    return Page(list(items), total, page, page_size)


def all_listings(
    db: Session, *, hidden_only: bool = False, page: int = 1, page_size: int = ADMIN_PAGE_SIZE
) -> Page[Listing]:
    """Every listing, hidden and deleted ones included (or only hidden ones), newest first."""
    condition = Listing.hidden_at.is_not(None) if hidden_only else Listing.id.is_not(None)
    total = db.scalar(select(func.count()).select_from(Listing).where(condition)) or 0
    items = db.scalars(
        select(Listing)
        .where(condition)
        .order_by(Listing.created_at.desc(), Listing.id.desc())
        .offset(_offset(page, page_size))
        .limit(page_size)
    ).all()
    return Page(list(items), total, page, page_size)


def listing_titles(db: Session, actions: list[ModerationAction]) -> dict[int, str]:
    """Titles of the listings the given actions were about, by listing id."""
    ids = {action.target_listing_id for action in actions if action.target_listing_id is not None}
    if not ids:
        return {}
    return {row.id: row.title for row in db.execute(select(Listing.id, Listing.title).where(Listing.id.in_(ids)))}


@dataclass(frozen=True)
class Dashboard:
    users_by_role_and_status: dict[tuple[str, str], int]
    listings_by_state: dict[str, int]
    latest_actions: list[ModerationAction]

    @property
    def total_users(self) -> int:
        return sum(self.users_by_role_and_status.values())

    @property
    def total_listings(self) -> int:
        return sum(self.listings_by_state.values())


def dashboard(db: Session, latest: int = 10) -> Dashboard:
    """Counts of accounts per role and status, of listings per state, and the latest actions."""
    users = {
        (str(role), str(status)): int(count)
        for role, status, count in db.execute(
            select(User.role, User.status, func.count()).group_by(User.role, User.status)
        )
    }
    listings: dict[str, int] = {}
    for status, hidden, count in db.execute(
        select(Listing.status, Listing.hidden_at.is_not(None), func.count()).group_by(
            Listing.status, Listing.hidden_at.is_not(None)
        )
    ):
        state = "hidden" if hidden and status != ListingStatus.DELETED else str(status)
        listings[state] = listings.get(state, 0) + int(count)
    return Dashboard(users, listings, moderation_record(db, 1, latest).items)
