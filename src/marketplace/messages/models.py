"""Message tables: an order's messages, and the question threads of listings (one per listing and buyer).

Text is stored as typed (checked running text, no markup interpreted): pages escape it on
output and show it as is in ``<pre>``, so a PGP-armored block survives byte for byte.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db.base import Base, UTCDateTime, enum_column, utcnow


class AuthorRole(StrEnum):
    """What the author of an order message was on the order when they wrote it."""

    BUYER = "buyer"
    VENDOR = "vendor"
    ARBITER = "arbiter"


class OrderMessage(Base):
    """One message on an order (append-only)."""

    __tablename__ = "order_messages"
    __table_args__ = (Index("ix_order_messages_order_id", "order_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(32), ForeignKey("orders.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author_role: Mapped[AuthorRole] = mapped_column(enum_column(AuthorRole, 16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QuestionThread(Base):
    """A buyer's questions about one listing and its vendor's answers: one thread per listing and buyer."""

    __tablename__ = "question_threads"
    __table_args__ = (
        UniqueConstraint("listing_id", "buyer_id", name="uq_question_threads_listing_buyer"),
        Index("ix_question_threads_vendor_last", "vendor_id", "last_message_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    vendor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QuestionMessage(Base):
    """One message of a question thread: the buyer's question or the vendor's answer (append-only)."""

    __tablename__ = "question_messages"
    __table_args__ = (Index("ix_question_messages_thread_id", "thread_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("question_threads.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    from_vendor: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
