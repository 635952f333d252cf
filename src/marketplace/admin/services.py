"""Moderation: suspending and restoring accounts, hiding and restoring listings, and the record.

Only an active admin account may call any service here, reading ones included: each checks its
actor first (``require_admin``), before it reads its input or the database, so the rule holds
wherever the call comes from (a page, the API, the CLI, a worker).

Every action needs a reason and writes one ``ModerationAction`` row in the caller's transaction,
the same one that changes the account or listing, so the record can never miss a change nor
show one that did not happen. The change itself is a compare-and-set
(``marketplace.db.writes.compare_and_set``: ``UPDATE ... WHERE status = 'active'``): of two
admins acting at once exactly one succeeds, the other gets a ``Conflict`` naming the state the
first one left.

Services raise domain errors and never commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from marketplace.accounts.models import AccountStatus, Role, User
from marketplace.accounts.services import create_account
from marketplace.accounts.sessions import revoke_all_credentials
from marketplace.admin.models import ModerationAction, ModerationKind
from marketplace.db.base import utcnow
from marketplace.db.writes import compare_and_set
from marketplace.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.listings.models import Listing, ListingStatus
from marketplace.pagination import Page, page_offset
from marketplace.text import TextKind, clean_line, require_visible, valid_text

log = logging.getLogger("marketplace.admin")

MAX_REASON_LENGTH = 1000
ADMIN_PAGE_SIZE = 50


def require_admin(actor: User) -> None:
    """Raise ``Forbidden`` unless ``actor`` is an admin account that is active (not suspended or deleted).

    ``actor`` is judged as loaded: load it in the caller's transaction (the route dependencies do).
    """
    if actor.role is not Role.ADMIN or actor.status is not AccountStatus.ACTIVE:
        raise Forbidden("Only an active admin account can do this.")


def check_reason(reason: str | None) -> str:
    """The reason as visible running text (``TextKind.MULTILINE``), NFC, trimmed; 1 to 1000 characters.

    Raises ``InvalidInput`` (field ``reason``).
    """
    text = valid_text(reason or "", TextKind.MULTILINE, field="reason", label="reason").strip()
    if not text:
        raise InvalidInput("Give a reason: it goes on the moderation record.", field="reason")
    if len(text) > MAX_REASON_LENGTH:
        raise InvalidInput(
            f"The reason must be at most {MAX_REASON_LENGTH} characters (it has {len(text)}).", field="reason"
        )
    require_visible(text, TextKind.MULTILINE, field="reason", label="reason")
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
        kind=kind,
        target_user_id=user_id,
        target_listing_id=listing_id,
        reason=reason,
        created_at=utcnow(),
    )
    db.add(action)
    db.flush()
    log.info(
        "moderation_action",
        extra={"kind": str(kind), "actor_id": admin.id, "user_id": user_id, "listing_id": listing_id},
    )
    return action


# --- accounts ---------------------------------------------------------------------------------


def _account(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no account with id {user_id}.")
    return user


def _account_conflict(user: User, wanted: AccountStatus) -> Conflict:
    if user.status is AccountStatus.DELETED:
        return Conflict(f"{user.username} deleted their account; it cannot be changed.", state=user.status)
    return Conflict(f"{user.username} is already {wanted}.", state=user.status)


def _set_account_status(db: Session, user: User, *, expected: AccountStatus, new: AccountStatus) -> None:
    """Move ``user`` from ``expected`` to ``new``, or raise ``Conflict`` naming the status it has.

    Another admin (or the owner deleting the account) may have changed it since it was read: the
    UPDATE's condition, not that read, decides.
    """

    def refused() -> Conflict:
        db.refresh(user)
        return _account_conflict(user, new)

    compare_and_set(
        db,
        update(User).where(User.id == user.id, User.status == expected).values(status=new),
        refused=refused,
    )
    db.refresh(user)


def suspend_account(db: Session, admin: User, user_id: int, reason: str | None) -> User:
    """Suspend an active account and sign it out everywhere (sessions and API tokens).

    Raises ``Forbidden`` (``admin`` is not an active admin; the target is the admin themselves or
    another admin), ``InvalidInput`` (reason), ``NotFound`` or ``Conflict`` (state ``suspended``
    or ``deleted``).
    """
    require_admin(admin)
    text = check_reason(reason)
    user = _account(db, user_id)
    if user.id == admin.id:
        raise Forbidden("You cannot suspend your own account: you would lock yourself out.")
    if user.role is Role.ADMIN:
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

    Raises ``Forbidden`` (``admin`` is not an active admin), ``InvalidInput`` (reason),
    ``NotFound`` or ``Conflict`` (state ``active`` or ``deleted``).
    """
    require_admin(admin)
    text = check_reason(reason)
    user = _account(db, user_id)
    _set_account_status(db, user, expected=AccountStatus.SUSPENDED, new=AccountStatus.ACTIVE)
    _record(db, admin, ModerationKind.RESTORE_ACCOUNT, text, user_id=user.id)
    return user


def create_account_as_admin(db: Session, admin: User, *, username: str, password: str, role: str) -> User:
    """Create an active account of any role (arbiters and admins can only be made this way or by the CLI).

    Raises ``Forbidden`` (``admin`` is not an active admin), ``InvalidInput`` (username, password,
    role) or ``Conflict`` (username taken).
    """
    require_admin(admin)
    try:
        chosen = Role(role)
    except ValueError:
        allowed = ", ".join(Role)
        raise InvalidInput(f"Choose a role: {allowed}.", field="role") from None
    user = create_account(db, username=username, password=password, role=chosen)
    _record(db, admin, ModerationKind.CREATE_ACCOUNT, f"Created as {chosen} by an admin.", user_id=user.id)
    return user


# --- listings ---------------------------------------------------------------------------------


class ListingState(StrEnum):
    """What an admin sees of a listing: its vendor's status, or hidden by a moderator."""

    ACTIVE = "active"
    PAUSED = "paused"
    HIDDEN = "hidden"
    DELETED = "deleted"


def _state_of(status: ListingStatus, hidden: bool) -> ListingState:
    # A deleted listing is deleted whether or not it was hidden before.
    if status is ListingStatus.DELETED:
        return ListingState.DELETED
    if hidden:
        return ListingState.HIDDEN
    return ListingState.PAUSED if status is ListingStatus.PAUSED else ListingState.ACTIVE


def listing_state(listing: Listing) -> ListingState:
    """``deleted``, ``hidden``, else the vendor's status (``active``, ``paused``)."""
    return _state_of(listing.status, listing.hidden_at is not None)


def _listing(db: Session, listing_id: int) -> Listing:
    listing = db.get(Listing, listing_id)
    if listing is None:
        raise NotFound(f"There is no listing with id {listing_id}.")
    return listing


def _listing_conflict(listing: Listing, *, hiding: bool) -> Conflict:
    state = listing_state(listing)
    if state is ListingState.DELETED:
        return Conflict("The vendor deleted this listing; it cannot be changed.", state=state)
    if hiding:
        return Conflict("This listing is already hidden.", state=state)
    return Conflict("This listing is not hidden.", state=state)


def _set_hidden(db: Session, listing: Listing, *, hide: bool) -> None:
    """Hide (or show again) ``listing`` unless it is deleted or already so; else ``Conflict`` naming its state."""

    def refused() -> Conflict:
        db.refresh(listing)
        return _listing_conflict(listing, hiding=hide)

    condition = Listing.hidden_at.is_(None) if hide else Listing.hidden_at.is_not(None)
    compare_and_set(
        db,
        update(Listing)
        .where(Listing.id == listing.id, Listing.status != ListingStatus.DELETED, condition)
        # Moderation is not an edit by the vendor: keep updated_at as it was.
        .values(hidden_at=utcnow() if hide else None, updated_at=Listing.updated_at),
        refused=refused,
    )
    db.refresh(listing)


def hide_listing(db: Session, admin: User, listing_id: int, reason: str | None) -> Listing:
    """Hide a listing from everyone but its vendor and admins.

    Raises ``Forbidden`` (``admin`` is not an active admin), ``InvalidInput`` (reason),
    ``NotFound`` or ``Conflict`` (state ``hidden`` or ``deleted``).
    """
    require_admin(admin)
    text = check_reason(reason)
    listing = _listing(db, listing_id)
    _set_hidden(db, listing, hide=True)
    _record(db, admin, ModerationKind.HIDE_LISTING, text, listing_id=listing.id)
    return listing


def restore_listing(db: Session, admin: User, listing_id: int, reason: str | None) -> Listing:
    """Show a hidden listing again (if its vendor has it active).

    Raises ``Forbidden`` (``admin`` is not an active admin), ``InvalidInput`` (reason),
    ``NotFound`` or ``Conflict`` (state ``active``, ``paused`` or ``deleted``).
    """
    require_admin(admin)
    text = check_reason(reason)
    listing = _listing(db, listing_id)
    _set_hidden(db, listing, hide=False)
    _record(db, admin, ModerationKind.RESTORE_LISTING, text, listing_id=listing.id)
    return listing


# --- reading ----------------------------------------------------------------------------------


def moderation_record(
    db: Session, admin: User, page: int = 1, page_size: int = ADMIN_PAGE_SIZE
) -> Page[ModerationAction]:
    """The moderation record, newest first. Raises ``Forbidden`` (``admin`` is not an active admin)."""
    require_admin(admin)
    total = db.scalar(select(func.count()).select_from(ModerationAction)) or 0
    items = db.scalars(
        select(ModerationAction)
        .order_by(ModerationAction.created_at.desc(), ModerationAction.id.desc())
        .offset(page_offset(page, page_size))
        .limit(page_size)
    ).all()
    return Page(list(items), total, page, page_size)


def search_accounts(
    db: Session, admin: User, query: str = "", page: int = 1, page_size: int = ADMIN_PAGE_SIZE
) -> Page[User]:
    """Accounts whose username contains ``query`` (any case), oldest first.

    Raises ``Forbidden`` (``admin`` is not an active admin).
    """
    require_admin(admin)
    condition = User.username_key.contains(clean_line(query).strip().lower(), autoescape=True)
    total = db.scalar(select(func.count()).select_from(User).where(condition)) or 0
    items = db.scalars(
        select(User).where(condition).order_by(User.id).offset(page_offset(page, page_size)).limit(page_size)
    ).all()
    return Page(list(items), total, page, page_size)


def all_listings(
    db: Session, admin: User, *, hidden_only: bool = False, page: int = 1, page_size: int = ADMIN_PAGE_SIZE
) -> Page[Listing]:
    """Every listing, hidden and deleted ones included (or only hidden ones), newest first.

    Raises ``Forbidden`` (``admin`` is not an active admin).
    """
    require_admin(admin)
    condition = Listing.hidden_at.is_not(None) if hidden_only else Listing.id.is_not(None)
    total = db.scalar(select(func.count()).select_from(Listing).where(condition)) or 0
    items = db.scalars(
        select(Listing)
        .where(condition)
        .order_by(Listing.created_at.desc(), Listing.id.desc())
        .offset(page_offset(page, page_size))
        .limit(page_size)
    ).all()
    return Page(list(items), total, page, page_size)


def listing_titles(db: Session, admin: User, actions: list[ModerationAction]) -> dict[int, str]:
    """Titles of the listings the given actions were about, by listing id.

    Raises ``Forbidden`` (``admin`` is not an active admin).
    """
    require_admin(admin)
    ids = {action.target_listing_id for action in actions if action.target_listing_id is not None}
    if not ids:
        return {}
    return {row.id: row.title for row in db.execute(select(Listing.id, Listing.title).where(Listing.id.in_(ids)))}


@dataclass(frozen=True)
class Dashboard:
    users_by_role_and_status: dict[tuple[Role, AccountStatus], int]
    listings_by_state: dict[ListingState, int]
    latest_actions: list[ModerationAction]

    @property
    def total_users(self) -> int:
        return sum(self.users_by_role_and_status.values())

    @property
    def total_listings(self) -> int:
        return sum(self.listings_by_state.values())


def dashboard(db: Session, admin: User, latest: int = 10) -> Dashboard:
    """Counts of accounts per role and status, of listings per state, and the latest actions.

    Raises ``Forbidden`` (``admin`` is not an active admin).
    """
    require_admin(admin)
    users = {
        (role, status): int(count)
        for role, status, count in db.execute(
            select(User.role, User.status, func.count()).group_by(User.role, User.status)
        )
    }
    hidden = Listing.hidden_at.is_not(None)
    listings: dict[ListingState, int] = {}
    for status, is_hidden, count in db.execute(
        select(Listing.status, hidden, func.count()).group_by(Listing.status, hidden)
    ):
        state = _state_of(status, bool(is_hidden))
        listings[state] = listings.get(state, 0) + int(count)
    return Dashboard(users, listings, moderation_record(db, admin, 1, latest).items)
