"""Shapes of the admin API: what a client sends (``*In``) and what it gets back (``*Out``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from marketplace.accounts.models import User
from marketplace.admin.models import ModerationAction
from marketplace.admin.services import listing_state
from marketplace.listings.models import Listing


class ReasonIn(BaseModel):
    """Why the action is taken; 1 to 1000 characters, checked by the service (field ``reason``)."""

    model_config = ConfigDict(extra="forbid")

    reason: str


class NewAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str
    password: str
    role: str


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
