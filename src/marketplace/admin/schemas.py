"""Shapes of the admin API: what a client sends (``*In``) and what it gets back (``*Out``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from marketplace.accounts.models import Role, User
from marketplace.accounts.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from marketplace.accounts.services import USERNAME_PATTERN
from marketplace.admin.models import ModerationAction
from marketplace.admin.services import MAX_REASON_LENGTH, listing_state
from marketplace.api_schema import ApiInput, enforced
from marketplace.listings.models import Listing
from marketplace.text import TextKind, json_schema_pattern


class ReasonIn(ApiInput):
    """Why the action is taken, checked by the service (field ``reason``)."""

    reason: str = Field(
        description=(
            f"Why: 1 to {MAX_REASON_LENGTH} characters after trimming, at least one visible (tab and line "
            "breaks allowed); it goes on the moderation record."
        ),
        json_schema_extra=enforced(
            pattern=json_schema_pattern(TextKind.MULTILINE), min_length=1, max_length=MAX_REASON_LENGTH
        ),
    )


class NewAccountIn(ApiInput):
    username: str = Field(
        description="3 to 32 letters, digits, '.', '-' or '_'; unique regardless of case.",
        json_schema_extra=enforced(pattern=USERNAME_PATTERN.pattern, min_length=3, max_length=32),
    )
    password: str = Field(
        description=f"{MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters, not a common password.",
        json_schema_extra=enforced(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH),
    )
    role: Role = Field(description="buyer, vendor, arbiter or admin.")


class AccountSummaryOut(BaseModel):
    id: int
    username: str
    role: str
    status: str

    @classmethod
    def of(cls, user: User) -> AccountSummaryOut:
        return cls(id=user.id, username=user.username, role=user.role, status=user.status)


class ListingSummaryOut(BaseModel):
    id: int
    title: str
    vendor: str
    status: str
    hidden: bool
    hidden_at: datetime | None
    state: str

    @classmethod
    def of(cls, listing: Listing) -> ListingSummaryOut:
        return cls(
            id=listing.id,
            title=listing.title,
            vendor=listing.vendor.username,
            status=listing.status,
            hidden=listing.hidden_at is not None,
            hidden_at=listing.hidden_at,
            state=listing_state(listing),
        )


class ModerationActionOut(BaseModel):
    id: int
    kind: str
    actor: str
    target_user_id: int | None
    target_listing_id: int | None
    reason: str
    created_at: datetime

    @classmethod
    def of(cls, action: ModerationAction) -> ModerationActionOut:
        return cls(
            id=action.id,
            kind=action.kind,
            actor=action.actor.username,
            target_user_id=action.target_user_id,
            target_listing_id=action.target_listing_id,
            reason=action.reason,
            created_at=action.created_at,
        )


class ModerationRecordOut(BaseModel):
    items: list[ModerationActionOut]
    total: int
    page: int
