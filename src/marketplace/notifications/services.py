"""Who is told what: notification rows written in the same transaction as what they tell, and reading them.

An order's change (``orders.states._record``, the one hook) concerns its buyer, its vendor and,
once a dispute was opened, the arbiter holding it; never the actor themself. A message, a
question, a review or a reply concerns the other people of its conversation (``notify``).

Reading: a user sees only their own rows; marking read is one ``UPDATE`` of their unread rows
(by id, or all), so marking twice changes nothing and someone else's ids are silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from marketplace.db.base import MAX_ID, utcnow
from marketplace.errors import InvalidInput
from marketplace.notifications.models import Notification
from marketplace.orders.models import EventActor, Order, OrderState
from marketplace.pagination import Page, page_offset

MAX_IDS = 500  # ids in one "mark as read" request

_STATE_WORDS = {
    OrderState.PLACED: "placed: the escrow is being set up",
    OrderState.AWAITING_PAYMENT: "waiting for the payment",
    OrderState.FUNDED: "paid: the escrow holds the payment",
    OrderState.SHIPPED: "shipped",
    OrderState.DISPUTED: "disputed",
    OrderState.PAYING_OUT: "being paid out",
    OrderState.COMPLETED: "completed: the vendor is paid",
    OrderState.REFUNDED: "refunded to the buyer",
    OrderState.RESOLVED: "resolved: the dispute's payout is confirmed",
    OrderState.CANCELLED: "cancelled",
    OrderState.DECLINED: "declined by the vendor",
    OrderState.EXPIRED: "expired: no full payment in time",
}
_ACTORS = {
    EventActor.BUYER: "by the buyer",
    EventActor.VENDOR: "by the vendor",
    EventActor.ARBITER: "by the arbiter",
    EventActor.WORKER: "by the escrow service",
    EventActor.DEADLINE: "a deadline passed",
}


def notify(db: Session, user_ids: Iterable[int | None], *, kind: str, text: str, link: str, now: datetime) -> None:
    """One unread notification for each of ``user_ids`` (None and repeats left out)."""
    for user_id in dict.fromkeys(user_id for user_id in user_ids if user_id is not None):
        db.add(Notification(user_id=user_id, kind=kind, text=text, link=link, created_at=now))


def _concerned(buyer_id: int, vendor_id: int, arbiter_id: int | None, dispute_opened_at: datetime | None) -> list[int]:
    people = [buyer_id, vendor_id]
    if dispute_opened_at is not None and arbiter_id is not None:
        people.append(arbiter_id)
    return people


def order_concerns(order: Order) -> list[int]:
    """The users an order's news concerns: buyer, vendor, and the arbiter holding its dispute (if any)."""
    return _concerned(order.buyer_id, order.vendor_id, order.arbiter_id, order.dispute_opened_at)


def order_changed(
    db: Session,
    order_id: str,
    *,
    actor_kind: EventActor,
    actor_id: int | None,
    from_state: OrderState | None,
    to_state: OrderState,
    reason: str | None,
    now: datetime,
) -> None:
    """Tell everyone ``order_concerns`` (but the actor) about one history row of an order.

    Read from the database after the change was written (the arbiter who just took a dispute is
    on the row), in the transaction that writes the history row.
    """
    row = db.execute(
        select(Order.buyer_id, Order.vendor_id, Order.arbiter_id, Order.dispute_opened_at, Order.listing_title).where(
            Order.id == order_id
        )
    ).one()
    people = _concerned(row.buyer_id, row.vendor_id, row.arbiter_id, row.dispute_opened_at)
    recipients = [person for person in people if person != actor_id]
    title = row.listing_title
    if from_state is None:
        text = f"New order of “{title}”."
    elif from_state == to_state:
        text = f"Order of “{title}”: {reason or 'updated'}"
    else:
        text = f"Order of “{title}” is now {_STATE_WORDS[to_state]} ({_ACTORS[actor_kind]})."
        if reason and to_state in {OrderState.DISPUTED, OrderState.PAYING_OUT}:
            text += f" Reason: {reason}"
    notify(db, recipients, kind="order", text=text, link=f"/orders/{order_id}", now=now)


# --- reading ---------------------------------------------------------------------------------


def unread_count(db: Session, user_id: int) -> int:
    statement = select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    return int(db.scalar(statement) or 0)


def list_for(db: Session, user_id: int, *, page: int, page_size: int) -> Page[Notification]:
    """``user_id``'s notifications: unread first, then newest first."""
    mine = Notification.user_id == user_id
    total = int(db.scalar(select(func.count()).where(mine)) or 0)
    statement = (
        select(Notification)
        .where(mine)
        .order_by(Notification.read_at.is_not(None), Notification.id.desc())
        .offset(page_offset(page, page_size))
        .limit(page_size)
    )
    return Page(items=list(db.scalars(statement)), total=total, page=page, page_size=page_size)


def check_ids(ids: object) -> list[int]:
    if not isinstance(ids, list) or not ids or len(ids) > MAX_IDS:
        raise InvalidInput(f"Give the ids to mark as read: a list of 1 to {MAX_IDS} numbers.", field="ids")
    if not all(isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID for value in ids):
        raise InvalidInput(f"Each id is a whole number from 1 to {MAX_ID}.", field="ids")
    return [value for value in ids if isinstance(value, int)]


def mark_read(db: Session, user_id: int, *, ids: Sequence[int] | None = None, everything: bool = False) -> int:
    """Mark ``user_id``'s unread notifications ``ids`` (or all of them) read; how many changed.

    Exactly one of ``ids`` and ``everything`` (else ``InvalidInput``). Ids of other users' rows,
    or of rows already read, change nothing.
    """
    if everything == (ids is not None):
        raise InvalidInput('Send either {"ids": [...]} or {"all": true}.', field="ids")
    statement = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if ids is not None:
        statement = statement.where(Notification.id.in_(check_ids(list(ids))))
    result = db.execute(statement.values(read_at=utcnow()).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
