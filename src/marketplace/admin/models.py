"""The moderation record: who did what to which account or listing, when and why."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.db.base import Base, UTCDateTime, enum_column, utcnow


class ModerationKind(StrEnum):
    CREATE_ACCOUNT = "create_account"
    SUSPEND_ACCOUNT = "suspend_account"
    RESTORE_ACCOUNT = "restore_account"
    HIDE_LISTING = "hide_listing"
    RESTORE_LISTING = "restore_listing"


class ModerationAction(Base):
    """Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "moderation_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[ModerationKind] = mapped_column(enum_column(ModerationKind, 32))
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    target_listing_id: Mapped[int | None] = mapped_column(ForeignKey("listings.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor: Mapped[User] = relationship(foreign_keys=[actor_id], lazy="joined")
    target_user: Mapped[User | None] = relationship(foreign_keys=[target_user_id], lazy="joined")
