"""Reviews: written once per completed order by its buyer; the reviewed vendor replies once.

Writing a review: the rating (a whole number from 1 to 5) and the text are checked first (422
naming the field), then the order as ``orders.services.order_for`` shows it (anyone not a party:
404, as for the order itself; the vendor or the arbiter: 403), then, holding a lock on the
order's review (``lock_names``), its state (completed, else 409 naming the state) and whether it
has a review already (409). The unique ``reviews.order_id`` is the last guard: of two reviews
sent at the same instant exactly one is written, the other is 409.

Replying: the review's vendor only (anyone else 403: reviews are public), once: one
compare-and-set on ``reply_text IS NULL`` (the second reply is 409).

Each review and reply tells the other side (``notifications.notify``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.accounts.models import User
from marketplace.db.base import utcnow
from marketplace.db.constraints import is_unique_violation
from marketplace.db.writes import compare_and_set, lock_names
from marketplace.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.messages.services import check_text
from marketplace.notifications.services import notify
from marketplace.orders.models import EventActor, Order, OrderState
from marketplace.orders.services import order_for
from marketplace.reviews.models import RATING_MAX, RATING_MIN, Review

REVIEW_MAX_LENGTH = 2_000
REPLY_MAX_LENGTH = 2_000


def check_rating(value: object) -> int:
    """A rating: a whole number from 1 to 5 (a page's form sends it as text)."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) < 3:
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not RATING_MIN <= value <= RATING_MAX:
        raise InvalidInput(f"Give a rating: a whole number from {RATING_MIN} to {RATING_MAX}.", field="rating")
    return value


def _said(state: OrderState) -> str:
    return state.value.replace("_", " ")


def _already_reviewed() -> Conflict:
    return Conflict("This order has its review already: an order is reviewed once.", state=OrderState.COMPLETED)


def _already_replied() -> Conflict:
    return Conflict("This review has its reply already: a vendor replies once.")


def review_order(db: Session, user: User, order_id: str, *, rating: object, text: object) -> Review:
    """The buyer reviews their completed order, once."""
    stars = check_rating(rating)
    checked = check_text(text, label="review", max_length=REVIEW_MAX_LENGTH)
    order, actor = order_for(db, user, order_id)
    if actor.kind is not EventActor.BUYER:
        raise Forbidden("Only the order's buyer reviews it.")
    lock_names(db, [f"review:{order.id}"])
    state = OrderState(db.scalar(select(Order.state).where(Order.id == order.id)) or order.state)
    if state is not OrderState.COMPLETED:
        raise Conflict(
            f"An order is reviewed once it is completed (the vendor paid); this one is {_said(state)}.", state=state
        )
    if db.scalar(select(Review.id).where(Review.order_id == order.id)) is not None:
        raise _already_reviewed()
    now = utcnow()
    review = Review(
        order_id=order.id, buyer_id=user.id, vendor_id=order.vendor_id, rating=stars, text=checked, created_at=now
    )
    db.add(review)
    try:
        db.flush()
    except IntegrityError as error:
        if is_unique_violation(error, "reviews", "order_id"):
            raise _already_reviewed() from None
        raise
    vendor = db.get(User, order.vendor_id)
    assert vendor is not None  # a foreign key  # noqa: S101
    notify(
        db,
        [order.vendor_id],
        kind="review",
        text=f"{user.username} reviewed the order of “{order.listing_title}”: {stars} out of {RATING_MAX}.",
        link=f"/vendors/{vendor.username}#review-{review.id}",
        now=now,
    )
    db.flush()
    return review


def reply(db: Session, user: User, review_id: int, text: object) -> Review:
    """The reviewed vendor replies to a review, once."""
    review = db.get(Review, review_id)
    if review is None:
        raise NotFound("There is no such review.")
    if review.vendor_id != user.id:
        raise Forbidden("Only the reviewed vendor replies to a review.")
    if review.reply_text is not None:  # said before the text's faults: the reply form is gone
        raise _already_replied()
    checked = check_text(text, label="reply", max_length=REPLY_MAX_LENGTH)
    now = utcnow()
    compare_and_set(
        db,
        update(Review)
        .where(Review.id == review.id, Review.reply_text.is_(None))
        .values(reply_text=checked, replied_at=now),
        refused=_already_replied,
    )
    notify(
        db,
        [review.buyer_id],
        kind="reply",
        text=f"{user.username} replied to your review.",
        link=f"/vendors/{user.username}#review-{review.id}",
        now=now,
    )
    db.flush()
    db.refresh(review)
    return review


@dataclass(frozen=True)
class VendorReviews:
    count: int
    average: float | None
    reviews: list[Review]


def of_vendor(db: Session, vendor_id: int, *, limit: int = 50) -> VendorReviews:
    """A vendor's review count and average rating, and their latest ``limit`` reviews."""
    count, average = db.execute(
        select(func.count(Review.id), func.avg(Review.rating)).where(Review.vendor_id == vendor_id)
    ).one()
    latest = db.scalars(
        select(Review)
        .where(Review.vendor_id == vendor_id)
        .order_by(Review.created_at.desc(), Review.id.desc())
        .limit(limit)
    )
    return VendorReviews(
        count=int(count or 0), average=None if average is None else round(float(average), 2), reviews=list(latest)
    )


def review_of_order(db: Session, order_id: str) -> Review | None:
    return db.scalar(select(Review).where(Review.order_id == order_id))


__all__: Sequence[str] = (
    "REPLY_MAX_LENGTH",
    "REVIEW_MAX_LENGTH",
    "VendorReviews",
    "check_rating",
    "of_vendor",
    "reply",
    "review_of_order",
    "review_order",
)
