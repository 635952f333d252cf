"""JSON API of order messages and listing questions, mounted under /api/v1 (rules: ``messages/services.py``)."""

from __future__ import annotations

from marketplace.accounts.auth import ApiUser
from marketplace.messages import services
from marketplace.messages.schemas import (
    MessageIn,
    MessageOut,
    MessagesOut,
    QuestionIn,
    QuestionsOut,
    message_out,
    messages_out,
    questions_out,
)
from marketplace.orders.api import OrderId
from marketplace.web import routing
from marketplace.web.dependencies import DbSession
from marketplace.web.numbers import ListingId

router = routing.router(tags=["messages"])


@router.get(
    "/orders/{order_id}/messages",
    response_model=MessagesOut,
    summary="An order's messages (buyer, vendor; the arbiter once disputed)",
)
def list_messages(order_id: OrderId, user: ApiUser, db: DbSession) -> MessagesOut:
    return messages_out(services.conversation(db, user, order_id))


@router.post(
    "/orders/{order_id}/messages",
    status_code=201,
    response_model=MessageOut,
    summary="Write on an order (buyer, vendor; the arbiter once disputed)",
)
def send_message(order_id: OrderId, body: MessageIn, user: ApiUser, db: DbSession) -> MessageOut:
    message = services.send_order_message(db, user, order_id, body.text)
    talk = services.conversation(db, user, message.order_id)
    return next(message_out(said) for said in talk.messages if said.message.id == message.id)


@router.get(
    "/listings/{listing_id}/questions",
    response_model=QuestionsOut,
    summary="Questions about a listing: a buyer's own thread, or every thread for its vendor",
)
def list_questions(listing_id: ListingId, user: ApiUser, db: DbSession) -> QuestionsOut:
    return questions_out(services.questions(db, user, listing_id))


@router.post(
    "/listings/{listing_id}/questions",
    status_code=201,
    response_model=QuestionsOut,
    summary="Ask a listing's vendor (buyers), or answer in a buyer's thread (the vendor)",
)
def ask_question(listing_id: ListingId, body: QuestionIn, user: ApiUser, db: DbSession) -> QuestionsOut:
    thread = services.ask(db, user, listing_id, body.text, thread_id=body.thread_id)
    found = services.questions(db, user, listing_id)
    return questions_out(
        services.Questions(
            listing=found.listing,
            is_vendor=found.is_vendor,
            threads=[one for one in found.threads if one.thread.id == thread.id],
        )
    )
