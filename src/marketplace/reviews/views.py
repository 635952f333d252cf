"""Pages of reviews: the buyer's review form, the vendor's reply (shown on the vendor's profile).

The review form exists for the buyer of a completed order not yet reviewed; for any other state
it leads to the order's page, and once reviewed to the review itself (the vendor's profile).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from marketplace.accounts.auth import PageUser
from marketplace.accounts.models import User
from marketplace.errors import Forbidden, MarketplaceError, NotFound
from marketplace.orders.models import EventActor, OrderState
from marketplace.orders.services import order_for
from marketplace.reviews import services
from marketplace.reviews.models import RATING_MAX, RATING_MIN, Review
from marketplace.reviews.services import REPLY_MAX_LENGTH, REVIEW_MAX_LENGTH
from marketplace.web import routing
from marketplace.web.csrf import verify_csrf
from marketplace.web.dependencies import DbSession
from marketplace.web.numbers import parse_id
from marketplace.web.pages import FormText, attempt, form_page, redirect

router = routing.router(dependencies=[Depends(verify_csrf)])

NOTICES = {
    "reviewed": "Your review is published.",
    "replied": "Your reply is published.",
}


def _vendor_name(db: DbSession, vendor_id: int) -> str:
    vendor = db.get(User, vendor_id)
    return vendor.username if vendor is not None else ""


def _form(
    request: Request, db: DbSession, user: User, order_id: str, *, error: MarketplaceError | None, form: dict[str, str]
) -> Response:
    order, actor = order_for(db, user, order_id)
    if actor.kind is not EventActor.BUYER:
        raise Forbidden("Only the order's buyer reviews it.")
    context: dict[str, Any] = {
        "order": order,
        "form": form,
        "ratings": range(RATING_MAX, RATING_MIN - 1, -1),
        "max_length": REVIEW_MAX_LENGTH,
    }
    return form_page(request, "reviews/review_form.html", context, error)


@router.get("/orders/{order_id}/review")
def review_form(order_id: str, request: Request, db: DbSession, user: PageUser) -> Response:
    order, actor = order_for(db, user, order_id)
    if actor.kind is not EventActor.BUYER:
        raise Forbidden("Only the order's buyer reviews it.")
    existing = services.review_of_order(db, order.id)
    if existing is not None:
        return redirect(f"/vendors/{_vendor_name(db, existing.vendor_id)}#review-{existing.id}")
    if order.state is not OrderState.COMPLETED:
        return redirect(f"/orders/{order.id}")
    return _form(request, db, user, order.id, error=None, form={})


@router.post("/orders/{order_id}/review")
def publish_review(
    order_id: str, request: Request, db: DbSession, user: PageUser, *, rating: FormText = "", text: FormText = ""
) -> Response:
    outcome = attempt(db, lambda: services.review_order(db, user, order_id, rating=rating, text=text))
    if isinstance(outcome, NotFound | Forbidden):
        raise outcome
    if isinstance(outcome, MarketplaceError):
        return _form(request, db, user, order_id, error=outcome, form={"rating": rating, "text": text})
    return redirect(f"/vendors/{_vendor_name(db, outcome.vendor_id)}", notice="reviewed")


@router.post("/reviews/{review_id}/reply")
def reply(review_id: str, request: Request, db: DbSession, user: PageUser, text: FormText = "") -> Response:
    number = parse_id(review_id, "review")
    outcome = attempt(db, lambda: services.reply(db, user, number, text))
    if isinstance(outcome, NotFound | Forbidden):
        raise outcome
    if isinstance(outcome, MarketplaceError):
        review = db.get(Review, number)
        if review is None:  # pragma: no cover - reviews are never deleted
            raise NotFound("There is no such review.")
        context = {"review": review, "form": {"text": text}, "max_length": REPLY_MAX_LENGTH}
        return form_page(request, "reviews/reply.html", context, outcome)
    return redirect(f"/vendors/{user.username}", notice="replied")
