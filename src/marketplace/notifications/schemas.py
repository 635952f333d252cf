"""API shapes of notifications."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from marketplace.api_schema import ApiInput, enforced
from marketplace.db.base import MAX_ID
from marketplace.notifications.models import Notification
from marketplace.notifications.services import MAX_IDS


class NotificationOut(BaseModel):
    id: int
    kind: str = Field(description="order, message, question, review or reply.")
    text: str
    link: str = Field(description="The page it is about.")
    created_at: datetime
    read: bool


class NotificationsOut(BaseModel):
    items: list[NotificationOut] = Field(description="Unread first, then newest first.")
    unread: int = Field(description="How many of yours are unread (all pages).")
    total: int
    page: int
    page_size: int


class ReadIn(ApiInput):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    ids: list[int] | None = Field(
        default=None,
        description=f"Mark these of yours read (1 to {MAX_IDS} ids; others' ids change nothing).",
        json_schema_extra={**enforced(minimum=1, maximum=MAX_ID), "maxItems": MAX_IDS, "minItems": 1},
    )
    all_: bool = Field(default=False, alias="all", description="Mark all of yours read (instead of ids).")


class ReadOut(BaseModel):
    marked: int = Field(description="How many changed from unread to read.")
    unread: int


def notification_out(row: Notification) -> NotificationOut:
    return NotificationOut(
        id=row.id, kind=row.kind, text=row.text, link=row.link, created_at=row.created_at, read=row.read_at is not None
    )
