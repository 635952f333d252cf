"""API shapes of reviews (rules: ``reviews/services.py``, stated with ``enforced``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from marketplace.api_schema import ApiInput, enforced
from marketplace.reviews.models import RATING_MAX, RATING_MIN, Review
from marketplace.reviews.services import REPLY_MAX_LENGTH, REVIEW_MAX_LENGTH
from marketplace.text import TextKind, json_schema_pattern

_MULTILINE = json_schema_pattern(TextKind.MULTILINE)


class ReviewIn(ApiInput):
    model_config = ConfigDict(extra="forbid", strict=True)  # a rating sent as "5" or true is refused

    rating: int = Field(
        description=f"{RATING_MIN} (worst) to {RATING_MAX} (best).",
        json_schema_extra=enforced(minimum=RATING_MIN, maximum=RATING_MAX),
    )
    text: str = Field(
        description=f"The review: 1 to {REVIEW_MAX_LENGTH:,} characters of running text, shown as typed.",
        json_schema_extra=enforced(min_length=1, max_length=REVIEW_MAX_LENGTH, pattern=_MULTILINE),
    )


class ReplyIn(ApiInput):
    text: str = Field(
        description=f"The vendor's reply: 1 to {REPLY_MAX_LENGTH:,} characters of running text, shown as typed.",
        json_schema_extra=enforced(min_length=1, max_length=REPLY_MAX_LENGTH, pattern=_MULTILINE),
    )


class ReplyOut(BaseModel):
    text: str
    created_at: datetime


class ReviewOut(BaseModel):
    id: int
    order_id: str
    rating: int
    text: str
    created_at: datetime
    reply: ReplyOut | None = Field(description="The vendor's reply, once written.")
    url: str = Field(description="Where the review is shown: the vendor's profile.")


def review_out(review: Review, vendor_name: str) -> ReviewOut:
    reply = None
    if review.reply_text is not None and review.replied_at is not None:
        reply = ReplyOut(text=review.reply_text, created_at=review.replied_at)
    return ReviewOut(
        id=review.id,
        order_id=review.order_id,
        rating=review.rating,
        text=review.text,
        created_at=review.created_at,
        reply=reply,
        url=f"/vendors/{vendor_name}#review-{review.id}",
    )
