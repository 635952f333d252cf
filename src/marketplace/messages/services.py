"""Who may read and write an order's messages and a listing's questions; the PGP key one click away.

Order messages: the order's parties as ``orders.services.order_for`` decides them (buyer, vendor;
an arbiter once a dispute was opened: the one holding it, or any while nobody has). Anyone else
gets ``NotFound``, exactly as for the order itself. Every message tells the others of the
order (``notifications.notify``), in the same transaction.

Listing questions: one thread per listing and buyer (``QuestionThread``). A buyer who can see the
listing asks in their own thread (made by their first question); the listing's vendor sees
every thread of the listing and answers in one by naming it (``thread_id``). A buyer never sees
another buyer's thread. Other roles (vendors about another's listing, arbiters, admins) are
refused with ``Forbidden``; a listing the asker cannot see is ``NotFound``.

Text: running text (``TextKind.MULTILINE``), 1 to ``MESSAGE_MAX_LENGTH`` characters, stored as
typed (markup is never interpreted: pages escape it and show it as is in ``<pre>``, which keeps
a PGP-armored block intact). The text is checked before anything is looked up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Exists

from marketplace.accounts.models import AccountStatus, Role, User
from marketplace.accounts.services import find_user_by_username
from marketplace.db.base import MAX_ID, utcnow
from marketplace.db.writes import lock_names
from marketplace.errors import Forbidden, InvalidInput, NotFound
from marketplace.listings.models import Listing
from marketplace.listings.services import listing_for_viewer
from marketplace.messages.models import AuthorRole, OrderMessage, QuestionMessage, QuestionThread
from marketplace.notifications.services import notify, order_concerns
from marketplace.orders import checks
from marketplace.orders.models import Order
from marketplace.orders.services import order_for
from marketplace.orders.states import Actor

MESSAGE_MAX_LENGTH = 10_000


def check_text(
    value: object, *, field: str = "text", label: str = "message", max_length: int = MESSAGE_MAX_LENGTH
) -> str:
    """Visible running text of 1 to ``max_length`` characters (NFC, trimmed), or ``InvalidInput`` naming ``field``."""
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"The {label} is text.", field=field)
    text = checks.check_optional_text(value, field=field, label=label, max_length=max_length)
    if text is None:
        raise InvalidInput(f"Write the {label}: it is empty.", field=field)
    return text


# --- order messages --------------------------------------------------------------------------


@dataclass(frozen=True)
class Said:
    """A message with its author's account (for the name and the PGP key link)."""

    message: OrderMessage
    author: User


@dataclass(frozen=True)
class Conversation:
    order: Order
    viewer: Actor
    messages: list[Said]
    people: dict[str, User]  # buyer, vendor, and arbiter when there is one


def conversation(db: Session, user: User, order_id: str) -> Conversation:
    """An order's messages, oldest first, as ``user`` may read them (``NotFound`` for anyone not a party)."""
    order, actor = order_for(db, user, order_id)
    rows = db.execute(
        select(OrderMessage, User)
        .join(User, User.id == OrderMessage.author_id)
        .where(OrderMessage.order_id == order.id)
        .order_by(OrderMessage.id)
    ).all()
    people = {"buyer": db.get(User, order.buyer_id), "vendor": db.get(User, order.vendor_id)}
    if order.arbiter_id is not None:
        people["arbiter"] = db.get(User, order.arbiter_id)
    return Conversation(
        order=order,
        viewer=actor,
        messages=[Said(message, author) for message, author in rows],
        people={role: person for role, person in people.items() if person is not None},
    )


def send_order_message(db: Session, user: User, order_id: str, text: object) -> OrderMessage:
    """``user`` writes on an order they are a party of; the order's other people are notified."""
    checked = check_text(text)
    order, actor = order_for(db, user, order_id)
    now = utcnow()
    message = OrderMessage(
        order_id=order.id, author_id=user.id, author_role=AuthorRole(actor.kind.value), text=checked, created_at=now
    )
    db.add(message)
    others = [person for person in order_concerns(order) if person != user.id]
    notify(
        db,
        others,
        kind="message",
        text=f"{user.username} wrote about the order of “{order.listing_title}”.",
        link=f"/orders/{order.id}/messages",
        now=now,
    )
    db.flush()
    return message


# --- listing questions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Thread:
    thread: QuestionThread
    buyer: User
    messages: list[QuestionMessage]


@dataclass(frozen=True)
class Questions:
    listing: Listing
    is_vendor: bool
    threads: list[Thread]


def _may_ask(user: User, listing: Listing) -> None:
    if user.id != listing.vendor_id and user.role is not Role.BUYER:
        raise Forbidden("Only buyers ask a vendor about a listing, and only its vendor answers.")


def questions(db: Session, user: User, listing_id: int) -> Questions:
    """The question threads of a listing ``user`` may read: the vendor all of them, a buyer their own."""
    listing = listing_for_viewer(db, listing_id, user)
    _may_ask(user, listing)
    is_vendor = user.id == listing.vendor_id
    statement = select(QuestionThread).where(QuestionThread.listing_id == listing.id)
    if not is_vendor:
        statement = statement.where(QuestionThread.buyer_id == user.id)
    found = []
    for thread in db.scalars(statement.order_by(QuestionThread.last_message_at.desc(), QuestionThread.id)):
        buyer = db.get(User, thread.buyer_id)
        assert buyer is not None  # a foreign key  # noqa: S101
        said = db.scalars(
            select(QuestionMessage).where(QuestionMessage.thread_id == thread.id).order_by(QuestionMessage.id)
        )
        found.append(Thread(thread=thread, buyer=buyer, messages=list(said)))
    return Questions(listing=listing, is_vendor=is_vendor, threads=found)


def _thread_id(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        digits = value.strip()
        value = int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= len(str(MAX_ID)) else None
        if value is None:
            raise NotFound("There is no such question thread.")
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
        raise NotFound("There is no such question thread.")
    return value


def ask(db: Session, user: User, listing_id: int, text: object, *, thread_id: object = None) -> QuestionThread:
    """A buyer asks (in their own thread) or the listing's vendor answers (in the thread ``thread_id``).

    The other side is notified. A vendor who names no thread is refused (422, field ``thread_id``);
    a thread of another listing, or a buyer naming another buyer's thread: ``NotFound``.
    """
    checked = check_text(text, label="question")
    wanted = _thread_id(thread_id)
    listing = listing_for_viewer(db, listing_id, user)
    _may_ask(user, listing)
    now = utcnow()
    link = f"/listings/{listing.id}/questions"
    if user.id == listing.vendor_id:
        if wanted is None:
            raise InvalidInput("Answer in a buyer's thread: name the thread (thread_id).", field="thread_id")
        thread = db.get(QuestionThread, wanted)
        if thread is None or thread.listing_id != listing.id:
            raise NotFound("There is no such question thread.")
        recipient = thread.buyer_id
        text_out = f"{user.username} answered your question about “{listing.title}”."
    else:
        lock_names(db, [f"question-thread:{listing.id}:{user.id}"])
        thread = db.scalar(
            select(QuestionThread).where(QuestionThread.listing_id == listing.id, QuestionThread.buyer_id == user.id)
        )
        if wanted is not None and (thread is None or thread.id != wanted):
            raise NotFound("There is no such question thread.")
        if thread is None:
            thread = QuestionThread(
                listing_id=listing.id, buyer_id=user.id, vendor_id=listing.vendor_id, created_at=now
            )
            db.add(thread)
            db.flush()
        recipient = listing.vendor_id
        text_out = f"{user.username} asked about “{listing.title}”."
    thread.last_message_at = now
    db.add(
        QuestionMessage(
            thread_id=thread.id,
            author_id=user.id,
            from_vendor=user.id == listing.vendor_id,
            text=checked,
            created_at=now,
        )
    )
    notify(db, [recipient], kind="question", text=text_out, link=link, now=now)
    db.flush()
    return thread


# --- PGP keys --------------------------------------------------------------------------------


def _shares_an_order(viewer: User, target: User) -> Exists:
    parties = or_(
        and_(Order.buyer_id == viewer.id, Order.vendor_id == target.id),
        and_(Order.buyer_id == target.id, Order.vendor_id == viewer.id),
        and_(Order.arbiter_id == target.id, or_(Order.buyer_id == viewer.id, Order.vendor_id == viewer.id)),
    )
    if viewer.role is Role.ARBITER:
        parties = or_(
            parties,
            and_(
                Order.dispute_opened_at.is_not(None),
                or_(Order.arbiter_id.is_(None), Order.arbiter_id == viewer.id),
                or_(Order.buyer_id == target.id, Order.vendor_id == target.id),
            ),
        )
    return exists().where(parties)


def pgp_key_owner(db: Session, viewer: User, username: str) -> User:
    """The account whose PGP key ``viewer`` may read: a vendor's is public (their profile shows it);
    anyone else's only to someone who shares an order or a question thread with them (or themself).
    Anyone else: ``NotFound``, as for a name that does not exist."""
    target = find_user_by_username(db, username) if len(username) <= 64 else None
    if target is None or target.status is AccountStatus.DELETED:
        raise NotFound("There is no such account.")
    if target.id == viewer.id or (target.role is Role.VENDOR and target.status is AccountStatus.ACTIVE):
        return target
    in_a_thread = exists().where(
        or_(
            and_(QuestionThread.vendor_id == viewer.id, QuestionThread.buyer_id == target.id),
            and_(QuestionThread.vendor_id == target.id, QuestionThread.buyer_id == viewer.id),
        )
    )
    if db.scalar(select(_shares_an_order(viewer, target))) or db.scalar(select(in_a_thread)):
        return target
    raise NotFound("There is no such account.")


__all__: Sequence[str] = (
    "MESSAGE_MAX_LENGTH",
    "Conversation",
    "Questions",
    "Said",
    "Thread",
    "ask",
    "check_text",
    "conversation",
    "pgp_key_owner",
    "questions",
    "send_order_message",
)
