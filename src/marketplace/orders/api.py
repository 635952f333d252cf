"""JSON API of orders, mounted under /api/v1 (contract: docs/api.md; the state machine: docs/escrow.md).

Every write is one transaction holding the state change, its history row and the job the worker
carries out (``states.py``); no handler calls a wallet or the daemon. Someone who is not a party
gets 404 on every route (the order's existence is not revealed), a party in the wrong role 403,
a transition the state does not allow 409 naming the state, bad input 422 naming the field.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Path, Query
from pydantic import BeforeValidator
from starlette.responses import Response

from marketplace.accounts.auth import ApiUser
from marketplace.db.base import utcnow
from marketplace.orders import sales, services, states
from marketplace.orders.checks import ORDER_ID_PATTERN
from marketplace.orders.models import OrderState
from marketplace.orders.schemas import (
    CancelIn,
    ConfirmIn,
    DecisionIn,
    DisputeIn,
    OrderIn,
    OrderOut,
    OrderPageOut,
    SalesSummaryOut,
    ShipIn,
    order_out,
    page_out,
    sales_out,
)
from marketplace.settings import Settings
from marketplace.web import routing
from marketplace.web.dependencies import ClientAddress, DbSession, SettingsDep
from marketplace.web.numbers import PageNumber, PageSize

router = routing.router(tags=["orders"])


def _order_id(value: object) -> str:
    return services.parse_order_id(value if isinstance(value, str) else str(value))


OrderId = Annotated[
    str,
    BeforeValidator(_order_id),
    Path(
        description="The order's id: 32 hex digits. Anything else is answered 404, as an id that does not exist.",
        json_schema_extra={"pattern": ORDER_ID_PATTERN},
    ),
]


def _out(db: DbSession, settings: Settings, user: ApiUser, order_id: str) -> OrderOut:
    return order_out(services.view(db, settings, user, order_id))


@router.post("/orders", status_code=201, response_model=OrderOut, summary="Order a listing (buyers)")
def place_order(body: OrderIn, buyer: ApiUser, db: DbSession, settings: SettingsDep) -> OrderOut:
    request = states.NewOrder(
        listing_id=body.listing_id,
        quantity=body.quantity,
        refund_address=body.refund_address,
        shipping_info=body.shipping_info,
    )
    order = services.place(db, settings, buyer, request)
    return _out(db, settings, buyer, order.id)


@router.get("/orders", response_model=OrderPageOut, summary="Your orders; an arbiter's disputes")
def list_orders(
    *,
    user: ApiUser,
    db: DbSession,
    settings: SettingsDep,
    state: Annotated[OrderState | None, Query(description="Only orders in this state.")] = None,
    page: PageNumber = 1,
    page_size: PageSize = None,
) -> OrderPageOut:
    found = services.list_orders(db, user, state=state, page=page, page_size=page_size or settings.listings_page_size)
    now = utcnow()
    overdue = {order.id: services.dispute_overdue(order, settings, now) for order in found.items}
    return page_out(found, overdue)


@router.get("/orders/{order_id}", response_model=OrderOut, summary="One order, its escrow and its history")
def get_order(order_id: OrderId, user: ApiUser, db: DbSession, settings: SettingsDep) -> OrderOut:
    return _out(db, settings, user, order_id)


@router.get(
    "/orders/{order_id}/payment-qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "The payment URI as a QR code."}},
    summary="The payment address and amount as a QR code (the buyer)",
)
def payment_qr(order_id: OrderId, user: ApiUser, db: DbSession) -> Response:
    return Response(services.payment_qr_svg(db, user, order_id), media_type="image/svg+xml")


@router.post("/orders/{order_id}/ship", response_model=OrderOut, summary="Mark an order shipped (its vendor)")
def ship_order(
    order_id: OrderId,
    user: ApiUser,
    db: DbSession,
    settings: SettingsDep,
    body: Annotated[ShipIn, Body()] = ShipIn(),
) -> OrderOut:
    order, actor = services.order_for(db, user, order_id)
    states.ship(db, order.id, actor, utcnow(), note=body.note)
    return _out(db, settings, user, order.id)


@router.post(
    "/orders/{order_id}/extend",
    response_model=OrderOut,
    summary="Extend the finalize deadline once, while shipped (its buyer); finalize_at is the new deadline",
)
def extend_order(order_id: OrderId, user: ApiUser, db: DbSession, settings: SettingsDep) -> OrderOut:
    order, actor = services.order_for(db, user, order_id)
    states.extend(db, order.id, actor, utcnow())
    return _out(db, settings, user, order.id)


@router.post(
    "/orders/{order_id}/confirm",
    status_code=202,
    response_model=OrderOut,
    summary="Confirm the order arrived: the payment goes to the vendor (its buyer)",
)
def confirm_order(
    *,
    order_id: OrderId,
    user: ApiUser,
    db: DbSession,
    settings: SettingsDep,
    client_address: ClientAddress,
    body: Annotated[ConfirmIn, Body()] = ConfirmIn(),
) -> OrderOut:
    order = services.confirm(db, settings, user, order_id, totp_code=body.totp_code, client_address=client_address)
    return _out(db, settings, user, order.id)


@router.post(
    "/orders/{order_id}/cancel",
    response_model=OrderOut,
    responses={202: {"model": OrderOut, "description": "Both parties agreed (or the ship window passed): refunding."}},
    summary="Cancel, ask to cancel, agree, or withdraw a request (buyer or vendor)",
)
def cancel_order(
    *,
    order_id: OrderId,
    user: ApiUser,
    db: DbSession,
    settings: SettingsDep,
    response: Response,
    body: Annotated[CancelIn, Body()] = CancelIn(),
) -> OrderOut:
    order, actor = services.order_for(db, user, order_id)
    result = states.cancel(db, order.id, actor, utcnow(), withdraw=body.withdraw)
    if result is states.CancelResult.REFUNDING:
        response.status_code = 202
    return _out(db, settings, user, order.id)


@router.post(
    "/orders/{order_id}/decline", response_model=OrderOut, summary="Decline an order not yet paid (its vendor)"
)
def decline_order(order_id: OrderId, user: ApiUser, db: DbSession, settings: SettingsDep) -> OrderOut:
    order, actor = services.order_for(db, user, order_id)
    states.decline(db, order.id, actor, utcnow())
    return _out(db, settings, user, order.id)


@router.post("/orders/{order_id}/dispute", response_model=OrderOut, summary="Open a dispute (buyer or vendor)")
def dispute_order(order_id: OrderId, body: DisputeIn, user: ApiUser, db: DbSession, settings: SettingsDep) -> OrderOut:
    order, actor = services.order_for(db, user, order_id)
    states.dispute(db, order.id, actor, utcnow(), reason=body.reason)
    return _out(db, settings, user, order.id)


@router.post(
    "/orders/{order_id}/claim",
    response_model=OrderOut,
    summary="Take a dispute: from now on only you see and decide it (arbiters)",
)
def claim_dispute(order_id: OrderId, user: ApiUser, db: DbSession, settings: SettingsDep) -> OrderOut:
    order, actor = services.order_for(db, user, order_id)
    states.claim_dispute(db, order.id, actor, utcnow())
    return _out(db, settings, user, order.id)


@router.post(
    "/orders/{order_id}/decision",
    status_code=202,
    response_model=OrderOut,
    summary="Decide a dispute: release, refund or split (the arbiter)",
)
def decide_dispute(
    *,
    order_id: OrderId,
    body: DecisionIn,
    user: ApiUser,
    db: DbSession,
    settings: SettingsDep,
    client_address: ClientAddress,
) -> OrderOut:
    order = services.decide(
        db,
        settings,
        user,
        order_id,
        outcome=body.outcome,
        buyer_share_atomic=body.buyer_share_atomic,
        reason=body.reason,
        totp_code=body.totp_code,
        client_address=client_address,
    )
    return _out(db, settings, user, order.id)


@router.get(
    "/sales/summary",
    response_model=SalesSummaryOut,
    summary="Your sales: orders counted and summed by state and by month (vendors)",
)
def sales_summary(user: ApiUser, db: DbSession) -> SalesSummaryOut:
    return sales_out(sales.sales_summary(db, user))
