"""JSON API of reviews, mounted under /api/v1 (rules: ``reviews/services.py``)."""

from __future__ import annotations

from marketplace.accounts.auth import ApiUser
from marketplace.accounts.models import User
from marketplace.orders.api import OrderId
from marketplace.reviews import services
from marketplace.reviews.schemas import ReplyIn, ReviewIn, ReviewOut, review_out
from marketplace.web import routing
from marketplace.web.dependencies import DbSession
from marketplace.web.numbers import ReviewId

router = routing.router(tags=["reviews"])


@router.post(
    "/orders/{order_id}/review",
    status_code=201,
    response_model=ReviewOut,
    responses={409: {"description": "The order is not completed, or has its review already."}},
    summary="Review a completed order, once (its buyer)",
)
def review_order(order_id: OrderId, body: ReviewIn, user: ApiUser, db: DbSession) -> ReviewOut:
    review = services.review_order(db, user, order_id, rating=body.rating, text=body.text)
    vendor = db.get(User, review.vendor_id)
    return review_out(review, vendor.username if vendor else "")


@router.post(
    "/reviews/{review_id}/reply",
    response_model=ReviewOut,
    responses={409: {"description": "The review has its reply already."}},
    summary="Reply to a review of yours, once (the reviewed vendor)",
)
def reply_to_review(review_id: ReviewId, body: ReplyIn, user: ApiUser, db: DbSession) -> ReviewOut:
    return review_out(services.reply(db, user, review_id, body.text), user.username)
