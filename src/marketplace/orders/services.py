"""Who may see and act on an order, and the reads the API shows; the writes are ``states.py``.

Visibility: an order is seen by its buyer, its vendor, and, once disputed, by the arbiters (any
arbiter while nobody has taken the dispute, then only the one who took or decided it). Anyone
else gets ``NotFound``, exactly as for an order that does not exist: whether an order exists is
not theirs to learn. A party in the wrong role (a buyer shipping) is refused by ``states.py``
with ``Forbidden``. An order id that is not 32 hex digits names nothing (``NotFound``).

The step-up for money (``accounts.confirmation.confirm_code``): when the account has two-factor
on, the buyer's confirm and the arbiter's decision need the current code (``totp_code``),
refused as everywhere else on the site: 422 naming the field.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import segno
from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from marketplace.accounts.confirmation import confirm_code
from marketplace.accounts.models import Role, User
from marketplace.db.base import utcnow
from marketplace.errors import Conflict, EscrowUnavailable, Forbidden, NotFound
from marketplace.monero.amounts import format_xmr
from marketplace.orders import checks, shipping, states
from marketplace.orders.models import (
    EscrowPayment,
    EscrowPayout,
    EventActor,
    Order,
    OrderEvent,
    OrderState,
    PayoutState,
)
from marketplace.pagination import Page, page_offset
from marketplace.settings import Settings

_ORDER_ID = re.compile(r"[0-9a-f]{32}")


def _no_such_order() -> NotFound:
    return NotFound("There is no such order.")


def parse_order_id(text: str) -> str:
    """An order id from a path: 32 lowercase hex digits, or ``NotFound``."""
    if not isinstance(text, str) or _ORDER_ID.fullmatch(text) is None:
        raise _no_such_order()
    return text


def require_escrow(settings: Settings) -> None:
    """Raise ``EscrowUnavailable`` (503) unless escrow is configured."""
    if not settings.escrow_configured:
        missing = ", ".join(settings.escrow_missing)
        raise EscrowUnavailable(
            f"Ordering is unavailable: the escrow service is not configured on this site (missing: {missing})."
        )


def viewer_actor(db: Session, order: Order, user: User) -> states.Actor | None:
    """The role ``user`` has on ``order`` (buyer, vendor, arbiter of its dispute), or None if they may not see it.

    An open dispute taken by an arbiter whose account is no longer active is every arbiter's again.
    """
    if user.id == order.buyer_id:
        return states.Actor(EventActor.BUYER, user.id)
    if user.id == order.vendor_id:
        return states.Actor(EventActor.VENDOR, user.id)
    if user.role is Role.ARBITER and order.dispute_opened_at is not None:
        open_again = order.state is OrderState.DISPUTED and states.claim_lapsed(db, order)
        if order.arbiter_id in (None, user.id) or open_again:
            return states.Actor(EventActor.ARBITER, user.id)
    return None


def order_for(db: Session, user: User, order_id: str) -> tuple[Order, states.Actor]:
    """The order and ``user``'s role on it; ``NotFound`` if there is none or they may not see it."""
    order = db.get(Order, parse_order_id(order_id), populate_existing=True)
    actor = None if order is None else viewer_actor(db, order, user)
    if order is None or actor is None:
        raise _no_such_order()
    return order, actor


# --- what a viewer sees ------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderView:
    """An order with everything its page or API answer shows to one viewer."""

    order: Order
    viewer: states.Actor
    buyer: User
    vendor: User
    arbiter: User | None
    events: list[OrderEvent]
    payments: list[EscrowPayment]
    payouts: list[EscrowPayout]
    shipping_info: str | None
    overdue: bool


def dispute_overdue(order: Order, settings: Settings, now: datetime) -> bool:
    """An open dispute nobody has touched (opened, taken) for longer than ``MARKETPLACE_DISPUTE_SLA_SECONDS``."""
    if order.state is not OrderState.DISPUTED or order.dispute_last_activity_at is None:
        return False
    return now - order.dispute_last_activity_at > timedelta(seconds=settings.dispute_sla_seconds)


def view(db: Session, settings: Settings, user: User, order_id: str) -> OrderView:
    order, actor = order_for(db, user, order_id)
    return view_of(db, settings, order, actor)


def view_of(db: Session, settings: Settings, order: Order, actor: states.Actor) -> OrderView:
    buyer, vendor = db.get(User, order.buyer_id), db.get(User, order.vendor_id)
    assert buyer is not None  # a foreign key  # noqa: S101
    assert vendor is not None  # a foreign key  # noqa: S101
    arbiter = db.get(User, order.arbiter_id) if order.arbiter_id is not None else None
    events = list(db.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)))
    payments = list(
        db.scalars(select(EscrowPayment).where(EscrowPayment.order_id == order.id).order_by(EscrowPayment.id))
    )
    payouts = list(
        db.scalars(
            select(EscrowPayout)
            .where(
                EscrowPayout.order_id == order.id,
                EscrowPayout.state.in_([PayoutState.SUBMITTED, PayoutState.CONFIRMED]),
            )
            .order_by(EscrowPayout.attempt)
        )
    )
    shown = None
    may_read_shipping = actor.kind is EventActor.VENDOR or (
        actor.kind is EventActor.ARBITER and order.dispute_opened_at is not None
    )
    if may_read_shipping and order.shipping_info is not None:
        shown = shipping.open_sealed(settings, order.id, order.shipping_info)
    return OrderView(
        order=order,
        viewer=actor,
        buyer=buyer,
        vendor=vendor,
        arbiter=arbiter,
        events=events,
        payments=payments,
        payouts=payouts,
        shipping_info=shown,
        overdue=dispute_overdue(order, settings, utcnow()),
    )


def _listed(db: Session, statement: Select[Any], page: int, page_size: int) -> Page[Order]:
    total = db.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    items = list(db.scalars(statement.offset(page_offset(page, page_size)).limit(page_size)))
    return Page(items=items, total=total, page=page, page_size=page_size)


def list_orders(db: Session, user: User, *, state: OrderState | None, page: int, page_size: int) -> Page[Order]:
    """The orders ``user`` may see, optionally in one state.

    A buyer's or a vendor's: their own, newest first. An arbiter's: the open disputes nobody has
    taken (or taken by an arbiter whose account is no longer active), oldest first, then the ones
    they took (open first, oldest first).
    """
    statement = select(Order)
    if user.role is Role.ARBITER:
        untaken = (Order.state == OrderState.DISPUTED) & states.dispute_untaken()
        statement = statement.where(untaken | (Order.arbiter_id == user.id)).order_by(
            case((Order.state == OrderState.DISPUTED, 0), else_=1), Order.dispute_opened_at, Order.id
        )
    else:
        statement = statement.where(or_(Order.buyer_id == user.id, Order.vendor_id == user.id)).order_by(
            Order.placed_at.desc(), Order.id
        )
    if state is not None:
        statement = statement.where(Order.state == state)
    return _listed(db, statement, page, page_size)


# --- actions ---------------------------------------------------------------------------------


def place(db: Session, settings: Settings, buyer: User, request: states.NewOrder) -> Order:
    """Place an order (``states.place``), once escrow is known to be configured (else 503)."""
    if buyer.role is Role.BUYER:
        require_escrow(settings)
    order_id = states.place(db, settings, buyer, request, utcnow())
    order = db.get(Order, order_id, populate_existing=True)
    assert order is not None  # just written  # noqa: S101
    return order


def confirm(
    db: Session, settings: Settings, user: User, order_id: str, *, totp_code: str | None, client_address: str
) -> Order:
    """The buyer confirms (step-up when two-factor is on)."""
    order, actor = order_for(db, user, order_id)
    if actor.kind is EventActor.BUYER:
        order_id = order.id

        def then() -> None:
            states.confirm(db, order_id, actor, utcnow())

        confirm_code(db, settings, user, totp_code=totp_code, client_address=client_address, then=then)
    else:
        states.confirm(db, order.id, actor, utcnow())  # refuses the wrong role
    return _reloaded(db, order.id)


def decide(
    db: Session,
    settings: Settings,
    user: User,
    order_id: str,
    *,
    outcome: object,
    buyer_share_atomic: object,
    reason: str | None,
    totp_code: str | None,
    client_address: str,
) -> Order:
    """An arbiter decides a dispute (step-up when two-factor is on).

    The body's own rules (outcome, the share's range, the reason) are checked before the order is
    looked up, so a refusal of bad input says nothing about whether the order exists.
    """
    if user.role is Role.ARBITER:
        checks.check_outcome(outcome)
        checks.check_buyer_share(buyer_share_atomic)
        checks.check_reason(reason, what="both parties read why the arbiter decided so")
    order, actor = order_for(db, user, order_id)

    def then() -> None:
        states.decide(
            db, order.id, actor, utcnow(), outcome=outcome, buyer_share_atomic=buyer_share_atomic, reason=reason
        )

    if actor.kind is EventActor.ARBITER:
        confirm_code(db, settings, user, totp_code=totp_code, client_address=client_address, then=then)
    else:
        then()  # refuses the wrong role
    return _reloaded(db, order.id)


def _reloaded(db: Session, order_id: str) -> Order:
    order = db.get(Order, order_id, populate_existing=True)
    if order is None:  # pragma: no cover - orders are never deleted
        raise _no_such_order()
    return order


def payment_qr_svg(db: Session, user: User, order_id: str) -> bytes:
    """The payment URI ``monero:ADDRESS?tx_amount=X`` (X: what is still missing, decimal XMR) as an SVG QR code.

    Only the buyer (a vendor or arbiter: ``Forbidden``), only while the order awaits its payment
    (``Conflict`` before the address is shown, and once paid or ended).
    """
    order, actor = order_for(db, user, order_id)
    if actor.kind is not EventActor.BUYER:
        raise Forbidden("Only the buyer pays an order.")
    if order.state is not OrderState.AWAITING_PAYMENT or order.escrow_address is None:
        if order.state is OrderState.PLACED:
            message = "The escrow is still being set up: the payment address is not ready yet."
        else:
            message = f"This order does not wait for a payment: it is {order.state.value.replace('_', ' ')}."
        raise Conflict(message, state=order.state)
    missing = order.amount_atomic - order.received_atomic - order.pending_atomic
    if missing <= 0:
        raise Conflict("Nothing is missing: the payments seen cover the amount due.", state=order.state)
    uri = f"monero:{order.escrow_address}?tx_amount={format_xmr(missing)}"
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, border=4, xmldecl=False)
    return out.getvalue()


__all__: Sequence[str] = (
    "OrderView",
    "confirm",
    "decide",
    "dispute_overdue",
    "list_orders",
    "order_for",
    "parse_order_id",
    "payment_qr_svg",
    "place",
    "require_escrow",
    "view",
    "view_of",
    "viewer_actor",
)
