"""HTML pages of orders for buyers, vendors and arbiters (they work with JavaScript disabled).

Every action is a form POST (CSRF field), then a 303 to the order's page with a notice; a refusal
shows the order page again with the message (its status: 409, 403, 422 ...) and changes nothing
(``web.pages.attempt`` rolls the request's transaction back). Who may see and do what is decided
by the services and the state machine (``services.order_for``: a non-party gets 404, as for an
order that does not exist). A page for a state the order is not in leads to the order's page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from marketplace.accounts.auth import OptionalPageUser, PageUser, page_user_with_role
from marketplace.accounts.models import Role, User
from marketplace.db.base import utcnow
from marketplace.devstack.pay import DEV_PAY_NOTICES
from marketplace.errors import InvalidInput, MarketplaceError, NotFound
from marketplace.listings import services as listing_services
from marketplace.listings.views import listing_context
from marketplace.messages.services import conversation
from marketplace.monero.amounts import format_xmr, parse_xmr
from marketplace.orders import sales, services, states
from marketplace.orders.buying import BuyForm, buy, fee_percent
from marketplace.orders.models import EventActor, Order, OrderState, Outcome, Party, PayoutState
from marketplace.reviews.services import review_of_order
from marketplace.settings import Settings
from marketplace.web import routing
from marketplace.web.csrf import verify_csrf
from marketplace.web.dependencies import ClientAddress, DbSession, SettingsDep
from marketplace.web.numbers import parse_id
from marketplace.web.pages import FormText, attempt, form_page, notice_from, redirect
from marketplace.web.templating import render

router = routing.router(dependencies=[Depends(verify_csrf)])

Arbiter = Annotated[User, Depends(page_user_with_role(Role.ARBITER))]
Vendor = Annotated[User, Depends(page_user_with_role(Role.VENDOR))]
S = OrderState
_ZERO = re.compile(r"0+(\.0*)?|\.0+")

NOTICES = {
    "placed": "Your order is placed. The escrow is being prepared; then pay the exact amount shown.",
    "confirmed": "You confirmed receipt: the payment goes to the vendor.",
    "cancelled": "The order is cancelled.",
    "cancel-requested": "You asked to cancel; the other party may agree.",
    "cancel-withdrawn": "Your request to cancel is withdrawn.",
    "refunding": "The order is cancelled: the payment goes back to the buyer.",
    "disputed": "The dispute is open: an arbiter will decide.",
    "extended": "The finalize deadline is extended.",
    "shipped": "The order is marked as shipped.",
    "declined": "The order is declined.",
    "claimed": "You took this dispute: only you can decide it now.",
    "decided": "The decision is made: the payout is on its way.",
}

STATE_WORDS = {
    S.PLACED: "Placed: the escrow is being prepared",
    S.AWAITING_PAYMENT: "Awaiting payment",
    S.FUNDED: "Paid: held in escrow, waiting to be shipped",
    S.SHIPPED: "Shipped: waiting for the buyer to confirm receipt",
    S.DISPUTED: "In dispute: an arbiter decides",
    S.PAYING_OUT: "Paying out",
    S.COMPLETED: "Completed: the vendor was paid",
    S.REFUNDED: "Refunded to the buyer",
    S.RESOLVED: "Resolved by an arbiter: paid out",
    S.CANCELLED: "Cancelled",
    S.DECLINED: "Declined by the vendor",
    S.EXPIRED: "Expired: not paid in time",
}


# --- times ----------------------------------------------------------------------------------


def _span(seconds: float) -> str:
    """A duration as a person says it: "2 d 3 h", "2 h 5 min", "4 min", "less than a minute"."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "less than a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def relative(moment: datetime | None, now: datetime) -> str:
    """ "in 2 h 5 min" or "3 min ago"."""
    if moment is None:
        return ""
    delta = (moment - now).total_seconds()
    return f"in {_span(delta)}" if delta >= 0 else f"{_span(-delta)} ago"


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def seconds_words(seconds: int) -> str:
    return _span(seconds)


# --- the order page -------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One line of the "Where is my money" timeline."""

    at: datetime
    title: str
    detail: str
    txids: list[tuple[str, str]]  # (txid, what is known of it: confirmations...)


def timeline(seen: services.OrderView) -> list[Step]:
    order = seen.order
    steps: list[Step] = []
    for event in seen.events:
        title = "Update" if event.from_state == event.to_state else STATE_WORDS[event.to_state]
        by = {
            EventActor.BUYER: "the buyer",
            EventActor.VENDOR: "the vendor",
            EventActor.ARBITER: "an arbiter",
            EventActor.WORKER: "the escrow service",
            EventActor.DEADLINE: "a deadline",
        }[event.actor]
        detail = f"By {by}." + (f" {event.reason}" if event.reason else "")
        steps.append(Step(event.at, title, detail, [(txid, "") for txid in event.txids]))
    for payment in seen.payments:
        if payment.in_pool:
            status = "seen in the pool, not yet in a block"
        else:
            status = f"{min(payment.confirmations, order.confirmations)} of {order.confirmations} confirmations"
            if payment.confirmations >= order.confirmations:
                status = f"confirmed ({payment.confirmations} confirmations)"
        steps.append(
            Step(
                payment.first_seen_at,
                "Payment in",
                f"{format_xmr(payment.amount_atomic)} XMR into the escrow: {status}.",
                [(payment.txid, status)],
            )
        )
    for payout in seen.payouts:
        paid = ", ".join(
            f"{format_xmr(int(destination['amount_atomic']))} XMR to the {destination['role'].replace('_', ' ')}"
            for destination in payout.destinations
        )
        if payout.state is PayoutState.CONFIRMED:
            status = f"confirmed ({payout.confirmations} confirmations)"
        else:
            status = f"{payout.confirmations} of {order.confirmations} confirmations"
        steps.append(
            Step(
                payout.submitted_at or payout.created_at,
                f"Payout ({payout.purpose.value})",
                f"{paid}; network fee {format_xmr(payout.network_fee_atomic)} XMR: {status}.",
                [(txid, status) for txid in payout.txids],
            )
        )
    return sorted(steps, key=lambda step: step.at)


def _cancel_action(order: Order, party: Party, now: datetime) -> tuple[str, str] | None:
    """(form variant, button label) of the cancel action this party may take now, if any."""
    if order.state in (S.PLACED, S.AWAITING_PAYMENT):
        return ("cancel", "Cancel order") if party is Party.BUYER else None
    if order.state not in (S.FUNDED, S.SHIPPED):
        return None
    if order.cancel_requested_by is party:
        return "withdraw", "Withdraw my request to cancel"
    if order.cancel_requested_by is not None:
        return "cancel", "Agree to cancel (refund the buyer)"
    ship_by = _ship_by(order)
    if party is Party.BUYER and order.state is S.FUNDED and ship_by is not None and now >= ship_by:
        return "cancel", "Cancel order"
    return "cancel", "Ask to cancel"


def _ship_by(order: Order) -> datetime | None:
    return None if order.funded_at is None else order.funded_at + timedelta(seconds=order.ship_window_seconds)


def _disputable(order: Order, now: datetime) -> bool:
    finalize = states.finalize_deadline(order)
    return order.state is S.FUNDED or (order.state is S.SHIPPED and finalize is not None and now < finalize)


def _buyer_actions(order: Order, now: datetime) -> dict[str, Any]:
    return {
        "pay": order.state in (S.PLACED, S.AWAITING_PAYMENT),
        "confirm": order.state in (S.FUNDED, S.SHIPPED),
        "extend": states.may_extend(order, now),
        "dispute": _disputable(order, now),
    }


def _vendor_actions(order: Order, now: datetime) -> dict[str, Any]:
    return {
        "decline": order.state in (S.PLACED, S.AWAITING_PAYMENT),
        "ship": order.state is S.FUNDED,
        "dispute": _disputable(order, now),
    }


def _arbiter_actions(db: Session, order: Order, arbiter_id: int | None) -> dict[str, Any]:
    if order.state is not S.DISPUTED:
        return {}
    untaken = order.arbiter_id is None or states.claim_lapsed(db, order)
    return {"claim": untaken, "decide": untaken or order.arbiter_id == arbiter_id}


def allowed_actions(db: Session, order: Order, actor: states.Actor, now: datetime) -> dict[str, Any]:
    """The actions ``actor`` may take on ``order`` now (what the page offers; the state machine decides)."""
    if actor.kind is EventActor.ARBITER:
        can = _arbiter_actions(db, order, actor.user_id)
    else:
        party = Party(actor.kind.value)
        can = _buyer_actions(order, now) if party is Party.BUYER else _vendor_actions(order, now)
        can["cancel"] = _cancel_action(order, party, now)
    return {name: value for name, value in can.items() if value}


def _until(moment: datetime | None, now: datetime) -> str:
    return f"{when(moment)} ({relative(moment, now)})"


def _next_unpaid(order: Order, role: EventActor, now: datetime) -> str:
    if order.state is S.PLACED:
        return "Wait a moment: the escrow is being prepared, then the payment address appears."
    deadline = _until(order.payment_deadline, now)
    if role is EventActor.BUYER:
        return f"Pay the exact amount into the escrow before {deadline}: open the pay page."
    return f"Wait for the buyer's payment, due before {deadline}. Nothing is shipped before it is confirmed."


def _next_paid(order: Order, role: EventActor, now: datetime) -> str:
    finalize = _until(states.finalize_deadline(order), now)
    ship_by = _until(_ship_by(order), now)
    said = {
        (S.FUNDED, EventActor.VENDOR): f"Ship the order and mark it as shipped, by {ship_by}.",
        (S.FUNDED, EventActor.BUYER): (
            f"The money is in escrow. The vendor ships by {ship_by}; after that you may cancel alone and be refunded."
        ),
        (S.SHIPPED, EventActor.BUYER): (
            f"When it arrives, confirm receipt. Unless you confirm or open a dispute by {finalize}, the payment "
            "goes to the vendor."
        ),
        (S.SHIPPED, EventActor.VENDOR): f"The buyer confirms receipt, or the payment comes to you at {finalize}.",
        (S.DISPUTED, EventActor.ARBITER): "Read the history and the messages, then decide: release, refund or split.",
    }
    if (order.state, role) in said:
        return said[(order.state, role)]
    if order.state is S.DISPUTED:
        return "An arbiter reads both sides and decides. You will see the decision and its reason here."
    return (
        f"The escrow is paying out; the payout counts once it has {order.confirmations} confirmations. "
        "Its transaction id appears below."
    )


def next_step(order: Order, actor: states.Actor, now: datetime) -> str:
    """What this viewer should do (or wait for) now, in one sentence."""
    if order.state in (S.PLACED, S.AWAITING_PAYMENT):
        return _next_unpaid(order, actor.kind, now)
    if order.ended:
        return "This order has ended. Its whole history is below."
    return _next_paid(order, actor.kind, now)


def _order_page(
    request: Request,
    db: Session,
    settings: Settings,
    user: User,
    order_id: str,
    *,
    error: MarketplaceError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    seen = services.view(db, settings, user, order_id)
    now = utcnow()
    order = seen.order
    context = {
        "seen": seen,
        "order": order,
        "role": seen.viewer.kind.value,
        "viewer_is_buyer": seen.viewer.kind is EventActor.BUYER,
        "review": review_of_order(db, order.id),
        "state_words": STATE_WORDS[order.state],
        "next_step": next_step(order, seen.viewer, now),
        "can": allowed_actions(db, order, seen.viewer, now),
        "timeline": timeline(seen),
        "fee_percent": fee_percent(order.fee_basis_points),
        "finalize_at": states.finalize_deadline(order),
        "extension_words": _span(order.finalize_extension_seconds),
        "missing_atomic": max(order.amount_atomic - order.received_atomic, 0),
        "settling": seen.payouts[-1] if seen.payouts else None,
        "now": now,
        "when": when,
        "relative": relative,
        "form": form or {},
        "notice": notice_from(request, NOTICES),
    }
    return form_page(request, "orders/order.html", context, error)


def _act(
    request: Request,
    db: Session,
    settings: Settings,
    user: User,
    order_id: str,
    *,
    action: Any,
    notice: str,
    form: dict[str, str] | None = None,
) -> Response:
    """Run ``action(order_id, actor)``; 303 to the order page, or the order page again with the refusal."""

    def run() -> str:
        order, actor = services.order_for(db, user, order_id)
        result = action(order.id, actor)
        return result if isinstance(result, str) else notice

    outcome = attempt(db, run)
    if isinstance(outcome, MarketplaceError):
        if isinstance(outcome, NotFound):
            raise outcome
        db.refresh(user)
        return _order_page(request, db, settings, user, order_id, error=outcome, form=form)
    return redirect(f"/orders/{order_id}", notice=outcome)


@router.get("/orders/{order_id}")
def order_page(order_id: str, request: Request, *, db: DbSession, user: PageUser, settings: SettingsDep) -> Response:
    return _order_page(request, db, settings, user, order_id)


@router.post("/orders/{order_id}/confirm")
def confirm_page(
    order_id: str,
    request: Request,
    *,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    client_address: ClientAddress,
    totp_code: FormText = "",
) -> Response:
    def run() -> None:
        services.confirm(db, settings, user, order_id, totp_code=totp_code or None, client_address=client_address)

    outcome = attempt(db, run)
    if isinstance(outcome, MarketplaceError):
        if isinstance(outcome, NotFound):
            raise outcome
        db.refresh(user)
        return _order_page(request, db, settings, user, order_id, error=outcome)
    return redirect(f"/orders/{order_id}", notice="confirmed")


@router.post("/orders/{order_id}/cancel")
def cancel_page(
    order_id: str, request: Request, *, db: DbSession, user: PageUser, settings: SettingsDep, withdraw: FormText = ""
) -> Response:
    notices = {
        states.CancelResult.CANCELLED: "cancelled",
        states.CancelResult.REQUESTED: "cancel-requested",
        states.CancelResult.WITHDRAWN: "cancel-withdrawn",
        states.CancelResult.REFUNDING: "refunding",
    }

    def action(oid: str, actor: states.Actor) -> str:
        return notices[states.cancel(db, oid, actor, utcnow(), withdraw=withdraw == "yes")]

    return _act(request, db, settings, user, order_id, action=action, notice="cancelled")


@router.post("/orders/{order_id}/dispute")
def dispute_page(
    order_id: str, request: Request, *, db: DbSession, user: PageUser, settings: SettingsDep, reason: FormText = ""
) -> Response:
    return _act(
        request,
        db,
        settings,
        user,
        order_id,
        action=lambda oid, actor: states.dispute(db, oid, actor, utcnow(), reason=reason),
        notice="disputed",
        form={"reason": reason},
    )


@router.post("/orders/{order_id}/extend")
def extend_page(order_id: str, request: Request, *, db: DbSession, user: PageUser, settings: SettingsDep) -> Response:
    return _act(
        request,
        db,
        settings,
        user,
        order_id,
        action=lambda oid, actor: states.extend(db, oid, actor, utcnow()),
        notice="extended",
    )


@router.post("/orders/{order_id}/ship")
def ship_page(
    order_id: str, request: Request, *, db: DbSession, user: PageUser, settings: SettingsDep, note: FormText = ""
) -> Response:
    return _act(
        request,
        db,
        settings,
        user,
        order_id,
        action=lambda oid, actor: states.ship(db, oid, actor, utcnow(), note=note or None),
        notice="shipped",
        form={"note": note},
    )


@router.post("/orders/{order_id}/decline")
def decline_page(order_id: str, request: Request, *, db: DbSession, user: PageUser, settings: SettingsDep) -> Response:
    return _act(
        request,
        db,
        settings,
        user,
        order_id,
        action=lambda oid, actor: states.decline(db, oid, actor, utcnow()),
        notice="declined",
    )


@router.post("/orders/{order_id}/claim")
def claim_page(order_id: str, request: Request, *, db: DbSession, user: PageUser, settings: SettingsDep) -> Response:
    return _act(
        request,
        db,
        settings,
        user,
        order_id,
        action=lambda oid, actor: states.claim_dispute(db, oid, actor, utcnow()),
        notice="claimed",
    )


# --- paying ---------------------------------------------------------------------------------


@router.get("/orders/{order_id}/pay")
def pay_page(order_id: str, request: Request, *, db: DbSession, user: PageUser, settings: SettingsDep) -> Response:
    order, actor = services.order_for(db, user, order_id)
    if actor.kind is not EventActor.BUYER or order.state not in (S.PLACED, S.AWAITING_PAYMENT):
        return redirect(f"/orders/{order.id}")
    seen = services.view_of(db, settings, order, actor)
    now = utcnow()
    missing = max(order.amount_atomic - order.received_atomic - order.pending_atomic, 0)
    confirming = [payment for payment in seen.payments if payment.spendable_at is None]
    context = {
        "order": order,
        "payments": seen.payments,
        "missing_atomic": missing,
        "short_atomic": max(order.amount_atomic - order.received_atomic, 0),
        "seen_any": bool(seen.payments),
        "least_confirmations": min((payment.confirmations for payment in confirming), default=None),
        "time_left": relative(order.payment_deadline, now) if order.payment_deadline else "",
        "deadline": when(order.payment_deadline),
        "dev_pay": settings.is_development,
        "when": when,
        "notice": notice_from(request, DEV_PAY_NOTICES) if settings.is_development else None,
    }
    return render(request, "orders/pay.html", context)


@router.get("/orders/{order_id}/qr.svg")
def payment_qr(order_id: str, db: DbSession, user: PageUser) -> Response:
    return Response(services.payment_qr_svg(db, user, order_id), media_type="image/svg+xml")


# --- lists ----------------------------------------------------------------------------------


@router.get("/orders")
def orders_page(request: Request, db: DbSession, user: PageUser, settings: SettingsDep) -> Response:
    wanted = request.query_params.get("state", "")
    state = OrderState(wanted) if wanted in {item.value for item in OrderState} else None
    found = services.list_orders(db, user, state=state, page=1, page_size=200)
    now = utcnow()
    context = {
        "orders": found.items,
        "total": found.total,
        "state": state,
        "states": STATE_WORDS,
        "overdue": {order.id: services.dispute_overdue(order, settings, now) for order in found.items},
        "when": when,
        "selling": user.role is Role.VENDOR,
    }
    return render(request, "orders/list.html", context)


@router.get("/disputes")
def disputes_page(request: Request, db: DbSession, arbiter: Arbiter, settings: SettingsDep) -> Response:
    found = services.list_orders(db, arbiter, state=OrderState.DISPUTED, page=1, page_size=200)
    now = utcnow()
    context = {
        "orders": found.items,
        "overdue": {order.id: services.dispute_overdue(order, settings, now) for order in found.items},
        "age": {order.id: relative(order.dispute_opened_at, now) for order in found.items},
        "when": when,
    }
    return render(request, "orders/disputes.html", context)


# --- the arbiter's decision ----------------------------------------------------------------


def _decision_form(
    request: Request,
    db: Session,
    settings: Settings,
    user: User,
    order_id: str,
    *,
    error: MarketplaceError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    seen = services.view(db, settings, user, order_id)
    if seen.viewer.kind is not EventActor.ARBITER or seen.order.state is not S.DISPUTED:
        if error is not None:  # a refused decision (decided meanwhile, say): the order as it is, saying why
            return _order_page(request, db, settings, user, order_id, error=error)
        return redirect(f"/orders/{seen.order.id}")
    context = {
        "seen": seen,
        "order": seen.order,
        "timeline": timeline(seen),
        "talk": conversation(db, user, order_id),
        "form": form or {"outcome": "", "buyer_share": "", "reason": ""},
        "when": when,
    }
    return form_page(request, "orders/decision.html", context, error)


def _parse_share(text: str) -> int:
    """The buyer's share in XMR; ``parse_xmr``'s messages speak of a price, this one of the share."""
    try:
        return parse_xmr(text, field="buyer_share")
    except InvalidInput as error:
        message = error.message.replace("the price", "the buyer's share").replace("The price", "The buyer's share")
        raise InvalidInput(message, field="buyer_share") from None


@router.get("/orders/{order_id}/decision")
def decision_page(order_id: str, request: Request, *, db: DbSession, user: PageUser, settings: SettingsDep) -> Response:
    return _decision_form(request, db, settings, user, order_id)


@router.post("/orders/{order_id}/decision")
def decide_page(
    order_id: str,
    request: Request,
    *,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    client_address: ClientAddress,
    outcome: FormText = "",
    buyer_share: FormText = "",
    reason: FormText = "",
    totp_code: FormText = "",
) -> Response:
    form = {"outcome": outcome, "buyer_share": buyer_share, "reason": reason}

    def run() -> None:
        if outcome not in {item.value for item in Outcome}:
            raise InvalidInput("Choose an outcome: release, refund or split.", field="outcome")
        share = None
        if outcome == Outcome.SPLIT.value:
            if not buyer_share.strip():
                raise InvalidInput("Enter the buyer's share in XMR, for example 0.1.", field="buyer_share")
            text = buyer_share.strip()
            share = 0 if _ZERO.fullmatch(text) else _parse_share(text)
        services.decide(
            db,
            settings,
            user,
            order_id,
            outcome=outcome,
            buyer_share_atomic=share,
            reason=reason,
            totp_code=totp_code or None,
            client_address=client_address,
        )

    result = attempt(db, run)
    if isinstance(result, MarketplaceError):
        if isinstance(result, NotFound):
            raise result
        if result.field == "buyer_share_atomic":
            result.field = "buyer_share"
        db.refresh(user)
        return _decision_form(request, db, settings, user, order_id, error=result, form=form)
    return redirect(f"/orders/{order_id}", notice="decided")


# --- buying ---------------------------------------------------------------------------------


@router.post("/listings/{listing_id}/buy")
def buy_page(
    listing_id: str,
    request: Request,
    *,
    db: DbSession,
    user: PageUser,
    settings: SettingsDep,
    quantity: FormText = "",
    refund_address: FormText = "",
    shipping_info: FormText = "",
) -> Response:
    number = parse_id(listing_id, "listing")
    form = BuyForm(quantity=quantity, refund_address=refund_address, shipping_info=shipping_info)
    placed = attempt(db, lambda: buy(db, settings, user, number, form))
    if isinstance(placed, MarketplaceError):
        db.refresh(user)
        listing = listing_services.listing_for_viewer(db, number, user)
        context = listing_context(request, settings, listing, user, form)
        return form_page(request, "listings/detail.html", context, placed)
    return redirect(f"/orders/{placed.id}", notice="placed")


# --- sales, and how it works ----------------------------------------------------------------


@router.get("/sales")
def sales_page(request: Request, db: DbSession, vendor: Vendor) -> Response:
    summary = sales.sales_summary(db, vendor)
    return render(request, "orders/sales.html", {"summary": summary, "states": STATE_WORDS})


@router.get("/how-it-works")
def how_it_works(request: Request, settings: SettingsDep, _viewer: OptionalPageUser) -> Response:
    context = {
        "fee_percent": fee_percent(settings.fee_basis_points),
        "fee_basis_points": settings.fee_basis_points,
        "confirmations": settings.confirmations,
        "payment_window": seconds_words(settings.payment_window_seconds),
        "ship_window": seconds_words(settings.ship_window_seconds),
        "finalize_window": seconds_words(settings.finalize_window_seconds),
        "extension": seconds_words(settings.finalize_extension_seconds),
        "dispute_sla": seconds_words(settings.dispute_sla_seconds),
        "escrow_on": settings.escrow_configured,
        "network": settings.network,
    }
    return render(request, "orders/how_it_works.html", context)
