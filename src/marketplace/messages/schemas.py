"""API shapes of order messages and listing questions (rules: ``messages/services.py``, stated with ``enforced``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from marketplace.api_schema import ApiInput, enforced
from marketplace.db.base import MAX_ID
from marketplace.messages.models import AuthorRole
from marketplace.messages.services import MESSAGE_MAX_LENGTH, Conversation, Questions, Said, Thread
from marketplace.text import TextKind, json_schema_pattern

_MULTILINE = json_schema_pattern(TextKind.MULTILINE)
_TEXT_RULE = (
    f"1 to {MESSAGE_MAX_LENGTH:,} characters of running text, stored and shown as typed (markup is not "
    "interpreted; a PGP-armored block is kept as is)."
)


class MessageIn(ApiInput):
    text: str = Field(
        description=f"The message: {_TEXT_RULE}",
        json_schema_extra=enforced(min_length=1, max_length=MESSAGE_MAX_LENGTH, pattern=_MULTILINE),
    )


class QuestionIn(ApiInput):
    text: str = Field(
        description=f"The question (a buyer) or the answer (the listing's vendor): {_TEXT_RULE}",
        json_schema_extra=enforced(min_length=1, max_length=MESSAGE_MAX_LENGTH, pattern=_MULTILINE),
    )
    thread_id: int | None = Field(
        default=None,
        description="The vendor answers in one buyer's thread: its id (required of the vendor). A buyer always "
        "writes in their own thread and may leave it out.",
        json_schema_extra=enforced(minimum=1, maximum=MAX_ID),
    )


class MessageOut(BaseModel):
    id: int
    author: str = Field(description="The author's username.")
    role: AuthorRole = Field(description="What the author is on the order.")
    text: str
    created_at: datetime
    pgp_key_url: str = Field(description="The page with the author's PGP public key.")


class ParticipantOut(BaseModel):
    username: str
    role: AuthorRole
    has_pgp_key: bool
    pgp_key_url: str


class MessagesOut(BaseModel):
    order_id: str
    items: list[MessageOut] = Field(description="Oldest first.")
    participants: list[ParticipantOut] = Field(description="The order's buyer, vendor and arbiter (when one holds it).")


class QuestionMessageOut(BaseModel):
    id: int
    author: str
    from_vendor: bool
    text: str
    created_at: datetime


class ThreadOut(BaseModel):
    id: int
    buyer: str = Field(description="The buyer who asked.")
    messages: list[QuestionMessageOut] = Field(description="Oldest first.")


class QuestionsOut(BaseModel):
    listing_id: int
    vendor: str
    threads: list[ThreadOut] = Field(description="The vendor sees every buyer's thread; a buyer only their own.")


def pgp_key_url(username: str) -> str:
    return f"/pgp-keys/{username}"


def message_out(said: Said) -> MessageOut:
    return MessageOut(
        id=said.message.id,
        author=said.author.username,
        role=said.message.author_role,
        text=said.message.text,
        created_at=said.message.created_at,
        pgp_key_url=pgp_key_url(said.author.username),
    )


def messages_out(talk: Conversation) -> MessagesOut:
    return MessagesOut(
        order_id=talk.order.id,
        items=[message_out(said) for said in talk.messages],
        participants=[
            ParticipantOut(
                username=person.username,
                role=AuthorRole(role),
                has_pgp_key=bool(person.pgp_key),
                pgp_key_url=pgp_key_url(person.username),
            )
            for role, person in talk.people.items()
        ],
    )


def thread_out(thread: Thread, vendor_name: str) -> ThreadOut:
    return ThreadOut(
        id=thread.thread.id,
        buyer=thread.buyer.username,
        messages=[
            QuestionMessageOut(
                id=message.id,
                author=vendor_name if message.from_vendor else thread.buyer.username,
                from_vendor=message.from_vendor,
                text=message.text,
                created_at=message.created_at,
            )
            for message in thread.messages
        ],
    )


def questions_out(found: Questions) -> QuestionsOut:
    vendor = found.listing.vendor.username
    return QuestionsOut(
        listing_id=found.listing.id, vendor=vendor, threads=[thread_out(thread, vendor) for thread in found.threads]
    )
