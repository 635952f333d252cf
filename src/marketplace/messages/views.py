"""Pages of order messages, listing questions and PGP keys (JavaScript off: POST, then 303, then GET).

Authorization is the services' (``messages/services.py``): a page of an order someone is not a
party of is the 404 page, as the order's own page is. A refused message shows the form again
(4xx) with the message and what was typed; nothing is written.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import Response

from marketplace.accounts.auth import PageUser
from marketplace.accounts.models import User
from marketplace.errors import Forbidden, MarketplaceError, NotFound
from marketplace.messages import services
from marketplace.messages.services import MESSAGE_MAX_LENGTH
from marketplace.web import routing
from marketplace.web.csrf import verify_csrf
from marketplace.web.dependencies import DbSession
from marketplace.web.numbers import parse_id
from marketplace.web.pages import FormText, attempt, form_page, notice_from, redirect

router = routing.router(dependencies=[Depends(verify_csrf)])

NOTICES = {
    "sent": "Your message is sent.",
    "asked": "Your question is sent to the vendor.",
    "answered": "Your answer is sent to the buyer.",
}


def _order_page(
    request: Request,
    db: DbSession,
    user: User,
    order_id: str,
    *,
    error: MarketplaceError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    talk = services.conversation(db, user, order_id)
    context: dict[str, Any] = {
        "talk": talk,
        "form": form or {},
        "max_length": MESSAGE_MAX_LENGTH,
        "notice": notice_from(request, NOTICES),
    }
    return form_page(request, "messages/order.html", context, error)


@router.get("/orders/{order_id}/messages")
def order_messages(order_id: str, request: Request, db: DbSession, user: PageUser) -> Response:
    return _order_page(request, db, user, order_id)


@router.post("/orders/{order_id}/messages")
def send_order_message(order_id: str, request: Request, db: DbSession, user: PageUser, text: FormText = "") -> Response:
    outcome = attempt(db, lambda: services.send_order_message(db, user, order_id, text))
    if isinstance(outcome, NotFound | Forbidden):
        raise outcome
    if isinstance(outcome, MarketplaceError):
        return _order_page(request, db, user, order_id, error=outcome, form={"text": text})
    return redirect(f"/orders/{outcome.order_id}/messages", notice="sent")


def _questions_page(
    request: Request,
    db: DbSession,
    user: User,
    listing_id: int,
    *,
    error: MarketplaceError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    found = services.questions(db, user, listing_id)
    context: dict[str, Any] = {
        "found": found,
        "form": form or {},
        "max_length": MESSAGE_MAX_LENGTH,
        "notice": notice_from(request, NOTICES),
    }
    return form_page(request, "messages/questions.html", context, error)


@router.get("/listings/{listing_id}/questions")
def listing_questions(listing_id: str, request: Request, db: DbSession, user: PageUser) -> Response:
    return _questions_page(request, db, user, parse_id(listing_id, "listing"))


@router.post("/listings/{listing_id}/questions")
def ask_question(
    listing_id: str, request: Request, db: DbSession, user: PageUser, *, text: FormText = "", thread_id: FormText = ""
) -> Response:
    number = parse_id(listing_id, "listing")
    outcome = attempt(db, lambda: services.ask(db, user, number, text, thread_id=thread_id))
    if isinstance(outcome, NotFound | Forbidden):
        raise outcome
    if isinstance(outcome, MarketplaceError):
        return _questions_page(request, db, user, number, error=outcome, form={"text": text, "thread_id": thread_id})
    notice = "answered" if outcome.vendor_id == user.id else "asked"
    return redirect(f"/listings/{number}/questions", notice=notice)


@router.get("/pgp-keys/{username}")
def pgp_key(username: str, request: Request, db: DbSession, user: PageUser) -> Response:
    owner = services.pgp_key_owner(db, user, username)
    return form_page(request, "messages/pgp_key.html", {"owner": owner, "is_self": owner.id == user.id})
