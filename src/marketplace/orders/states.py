"""The order and escrow state machine: every transition, user-driven and worker-driven, top to bottom.

States (``OrderState``; drawn in docs/escrow.md)::

    placed ──escrow_ready──> awaiting_payment ──record_payments (received ≥ due)──> funded
      │  cancel / decline / payment deadline           │ cancel / decline / deadline     │ ship
      └──────────> cancelled / declined / expired <────┘                                 v
                                                      funded ─────── dispute ─────> disputed
                                                        │ confirm, cancel agreed,      │ decide
                                                        │ ship-window cancel           │
                                                      shipped ─ confirm / finalize ─>  paying_out
                                                                                       │ payout_confirmed
                                                          completed / refunded / resolved

Every transition is a function ``(db, order_id, actor, now, ...)`` that makes ONE compare-and-set
on the order's row (``db.writes.compare_and_set``: the WHERE names the state it expects, and every
other fact the rule reads that can change), and in the same transaction writes its history row
(``OrderEvent``) and, when the worker must act, its job row (``jobs.queue.enqueue``). Of two
requests racing for one order, exactly one matches the row; the other gets ``Conflict`` naming
the state it found. A state read before the write is only a guess at which rule applies: the write
checks it again, and when the guess was stale (the state moved to another state the rule also
allows) the function reads again and retries, a bounded number of times.

While shipped, the buyer may extend the finalize deadline once (``extend``: no state change, a
history row; the deadline moves by the extension fixed at placement).

Deadlines are decided by the order's stored timestamps and windows (fixed at placement), never by
when a job runs: a dispute after the finalize window ended is refused even if the deadline job
has not run yet; ``on_deadline`` run early does nothing but put the job back for the right time;
run late, it applies the deadline as of its own time, if the order is still where the deadline
applies.

Job kinds the state machine writes (order id on the job row; payloads hold no secret):

- ``escrow.setup`` at placement: set up the 2-of-3 escrow, back it up, then ``escrow_ready``.
- ``escrow.deadline`` with ``{"deadline": "payment" | "finalize"}``, ``run_at`` = the deadline:
  call ``on_deadline``.
- ``escrow.payout`` with ``{"purpose": "release" | "refund" | "split" | "return",
  "signers": [proposer, cosigner], "buyer_share_atomic": int | None}``: build, check, sign, save
  (``payout_signed``), submit (``payout_submitted``), watch (``payout_confirmed``). A ``return``
  sweeps whatever the escrow holds, once no settling payout is in flight, to the buyer's refund
  address; signed by buyer and arbiter.

Who signs (the escrow's business, recorded here so the worker knows): the buyer's confirm, buyer
and vendor; a mutual cancellation, buyer and vendor; the buyer's cancel after the ship window,
buyer and arbiter; the finalize deadline, vendor and arbiter; an arbiter's decision, the arbiter
and the favoured party (release: vendor; refund: buyer; split: the party with the larger part,
the buyer on a tie); a return, buyer and arbiter. The proposer is named first.

Accounts: a suspended or closed party cannot sign in, but nothing here looks at a party's
account status, so the other party, the worker, the deadlines and the arbiters carry every open
order to its end. A dispute taken by an arbiter whose account is no longer active (suspended,
deleted) is open again to every arbiter (``dispute_untaken``): a claim never strands a dispute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from marketplace.accounts.models import AccountStatus, Role, User
from marketplace.db.writes import compare_and_set, lock_names, select_for_update
from marketplace.errors import Conflict, Forbidden, InvalidInput, MarketplaceError, NotFound
from marketplace.jobs.queue import enqueue
from marketplace.listings.models import Listing, ListingStatus
from marketplace.listings.stock import release_stock, reserve_stock
from marketplace.monero.amounts import format_xmr
from marketplace.notifications import services as notifications
from marketplace.orders import checks, shipping
from marketplace.orders.models import (
    END_STATES,
    UNPAID_STATES,
    EscrowPayment,
    EscrowPayout,
    EventActor,
    Order,
    OrderEvent,
    OrderState,
    Outcome,
    Party,
    PayoutPurpose,
    PayoutState,
)
from marketplace.settings import Settings, SignerRole

S = OrderState
SETUP_JOB = "escrow.setup"
DEADLINE_JOB = "escrow.deadline"
PAYOUT_JOB = "escrow.payout"
SHIPPING_INFO_KEPT = timedelta(days=30)
_CONFIRMING_RECHECK = timedelta(seconds=60)  # the payment deadline, while a payment seen in time confirms
_RETRIES = 3  # re-reads when the state moved between the read and the write to another allowed state


@dataclass(frozen=True)
class Actor:
    """Who makes a transition: a party or an arbiter (with their account id), the worker, or a deadline."""

    kind: EventActor
    user_id: int | None = None


WORKER = Actor(EventActor.WORKER)
DEADLINE = Actor(EventActor.DEADLINE)


# --- the shared mechanics --------------------------------------------------------------------


def _state(db: Session, order_id: str) -> OrderState:
    state = db.scalar(select(Order.state).where(Order.id == order_id))
    if state is None:
        raise NotFound("There is no such order.")
    return OrderState(state)


def _order(db: Session, order_id: str) -> Order:
    """The order as the database holds it now (loaded objects refreshed: the writes bypass them)."""
    order = db.get(Order, order_id, populate_existing=True)
    if order is None:
        raise NotFound("There is no such order.")
    return order


def _refused(db: Session, order_id: str, message: str) -> Callable[[], MarketplaceError]:
    def refusal() -> MarketplaceError:
        try:
            state = _state(db, order_id)
        except NotFound as gone:
            return gone
        return Conflict(message.format(state=state.value.replace("_", " ")), state=state.value)

    return refusal


def _record(
    db: Session,
    order_id: str,
    actor: Actor,
    now: datetime,
    *,
    from_state: OrderState | None,
    to_state: OrderState,
    reason: str | None = None,
    txids: Iterable[str] = (),
) -> None:
    db.add(
        OrderEvent(
            order_id=order_id,
            at=now,
            actor=actor.kind,
            actor_id=actor.user_id,
            from_state=from_state,
            to_state=to_state,
            reason=reason,
            txids=list(txids),
        )
    )
    # Everyone the change concerns but its actor is told, in this same transaction.
    notifications.order_changed(
        db,
        order_id,
        actor_kind=actor.kind,
        actor_id=actor.user_id,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        now=now,
    )
    db.flush()


def _move(
    db: Session,
    order_id: str,
    actor: Actor,
    now: datetime,
    *,
    expected: OrderState,
    to: OrderState,
    values: dict[str, Any] | None = None,
    where: Sequence[ColumnElement[bool]] = (),
    refusal: str,
    reason: str | None = None,
    txids: Iterable[str] = (),
) -> None:
    """The compare-and-set ``expected`` → ``to`` (with ``values`` and the extra ``where``), and its history row.

    ``refusal`` is the ``Conflict`` message when the row did not match (``{state}`` is filled in).
    """
    statement = (
        update(Order).where(Order.id == order_id, Order.state == expected, *where).values(state=to, **(values or {}))
    )
    compare_and_set(db, statement, refused=_refused(db, order_id, refusal))
    _record(db, order_id, actor, now, from_state=expected, to_state=to, reason=reason, txids=txids)


def _with_retries(attempt: Callable[[], Any]) -> Any:
    """Run ``attempt`` (read, decide, compare-and-set); again if it lost to a change it can still follow."""
    for _ in range(_RETRIES - 1):
        try:
            return attempt()
        except _Stale:
            continue
    try:
        return attempt()
    except _Stale as stale:
        raise stale.conflict from None


class _Stale(Exception):
    """The row changed between the read and the write; ``conflict`` is the answer if it keeps changing."""

    def __init__(self, conflict: MarketplaceError) -> None:
        super().__init__(conflict.message)
        self.conflict = conflict


def _try_move(db: Session, order_id: str, actor: Actor, now: datetime, **arguments: Any) -> None:
    """``_move``, but a lost race raises ``_Stale`` so that ``_with_retries`` reads again."""
    try:
        _move(db, order_id, actor, now, **arguments)
    except Conflict as conflict:
        raise _Stale(conflict) from None


def _require(actor: Actor, *kinds: EventActor, message: str) -> None:
    if actor.kind not in kinds:
        raise Forbidden(message)


def _party(actor: Actor) -> Party:
    return Party.BUYER if actor.kind is EventActor.BUYER else Party.VENDOR


def _end_values(now: datetime) -> dict[str, Any]:
    return {"ended_at": now, "cancel_requested_by": None, "cancel_requested_at": None}


def _return_stock(db: Session, order: Order) -> None:
    """Give the order's units back to its listing (the order ended without a sale); nothing if the listing is gone."""
    if order.listing_id is not None and db.get(Listing, order.listing_id) is not None:
        release_stock(db, order.listing_id, order.quantity)


def _payout_job(
    db: Session,
    order_id: str,
    now: datetime,
    *,
    purpose: PayoutPurpose,
    signers: tuple[SignerRole, SignerRole],
    buyer_share_atomic: int | None = None,
) -> None:
    enqueue(
        db,
        PAYOUT_JOB,
        order_id=order_id,
        run_at=now,
        payload={
            "purpose": purpose.value,
            "signers": [signers[0].value, signers[1].value],
            "buyer_share_atomic": buyer_share_atomic,
        },
    )


def _return_job(db: Session, order_id: str, now: datetime) -> None:
    _payout_job(db, order_id, now, purpose=PayoutPurpose.RETURN, signers=(SignerRole.BUYER, SignerRole.ARBITER))


def _deadline_job(db: Session, order_id: str, deadline: str, run_at: datetime) -> None:
    enqueue(db, DEADLINE_JOB, order_id=order_id, run_at=run_at, payload={"deadline": deadline})


def _settle_values(
    outcome: Outcome, signers: tuple[SignerRole, SignerRole], buyer_share_atomic: int | None
) -> dict[str, Any]:
    return {
        "payout_outcome": outcome,
        "payout_proposer": signers[0],
        "payout_cosigner": signers[1],
        "payout_buyer_share_atomic": buyer_share_atomic,
        "cancel_requested_by": None,
        "cancel_requested_at": None,
    }


def _settle(
    db: Session,
    order: Order,
    actor: Actor,
    now: datetime,
    *,
    expected: OrderState,
    outcome: Outcome,
    signers: tuple[SignerRole, SignerRole],
    refusal: str,
    reason: str,
    buyer_share_atomic: int | None = None,
    values: dict[str, Any] | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> None:
    """``expected`` → paying_out with the settling payout's outcome and signers, and the payout job."""
    _try_move(
        db,
        order.id,
        actor,
        now,
        expected=expected,
        to=S.PAYING_OUT,
        values={**_settle_values(outcome, signers, buyer_share_atomic), **(values or {})},
        where=where,
        refusal=refusal,
        reason=reason,
    )
    _payout_job(
        db, order.id, now, purpose=PayoutPurpose(outcome.value), signers=signers, buyer_share_atomic=buyer_share_atomic
    )


def _end_unpaid(
    db: Session, order: Order, actor: Actor, now: datetime, *, to: OrderState, refusal: str, reason: str
) -> None:
    """An order not yet funded ends (cancelled, declined, expired): its units come back, what arrived goes back."""
    _try_move(
        db, order.id, actor, now, expected=order.state, to=to, values=_end_values(now), refusal=refusal, reason=reason
    )
    _return_stock(db, order)
    # Read after the write, which holds the row: a payment recorded meanwhile is counted here, and
    # one recorded later finds the order ended (``record_payments`` queues its return then).
    if (db.scalar(select(Order.received_atomic).where(Order.id == order.id)) or 0) > 0:
        _return_job(db, order.id, now)


# --- placing an order ------------------------------------------------------------------------


@dataclass(frozen=True)
class NewOrder:
    """What a buyer sends to order (the API's body, the page's form)."""

    listing_id: object
    quantity: object
    refund_address: object
    shipping_info: str | None = None


def place(db: Session, settings: Settings, buyer: User, request: NewOrder, now: datetime) -> str:
    """None → placed: reserve the units, fix the terms, queue the escrow's set-up. Returns the new order's id.

    Refusals, in this order: ``Forbidden`` (not an active buyer account), ``InvalidInput``
    (listing_id, quantity, refund_address, shipping_info), ``Conflict`` (state
    ``too_many_unpaid``: the buyer already has ``max_unpaid_orders`` orders placed and not yet
    funded; counted under a lock on the buyer's name, so two orders at once cannot both pass),
    ``NotFound`` (no such listing), ``Conflict`` (``no_payout_address``: the vendor has set no
    payout address; ``unavailable``: paused, hidden, or its vendor's account not active),
    ``InvalidInput`` field quantity (more than the stock, a total under the minimum or over the cap).
    The caller checks that escrow is configured (``escrow_unavailable``).
    """
    if buyer.role is not Role.BUYER or not buyer.is_active:
        raise Forbidden("Only a buyer account can order.")
    listing_id = checks.check_listing_id(request.listing_id)
    quantity = checks.check_quantity(request.quantity)
    refund_address = checks.check_refund_address(request.refund_address, settings)
    shipping_info = checks.check_optional_text(
        request.shipping_info,
        field="shipping_info",
        label="shipping details",
        max_length=checks.SHIPPING_INFO_MAX_LENGTH,
    )
    lock_names(db, [f"orders.unpaid:{buyer.id}"])
    unpaid = db.scalar(
        select(func.count()).select_from(Order).where(Order.buyer_id == buyer.id, Order.state.in_(UNPAID_STATES))
    )
    if (unpaid or 0) >= settings.max_unpaid_orders:
        raise Conflict(
            f"You have {unpaid} orders waiting for payment, the most at once: pay or cancel one first.",
            state="too_many_unpaid",
        )
    seller = db.scalar(
        select(Listing.vendor_id).where(Listing.id == listing_id, Listing.status != ListingStatus.DELETED)
    )
    if seller is None:
        raise NotFound("There is no such listing.")
    vendor = db.get(User, seller, populate_existing=True)
    if vendor is None or not vendor.payout_address:
        raise Conflict(
            "This vendor cannot take orders yet: they have not set the payout address they would be paid at.",
            state="no_payout_address",
        )
    try:
        reserve_stock(db, listing_id, quantity)
    except Conflict as refusal:
        if refusal.state == "out_of_stock":
            raise InvalidInput(refusal.message, field="quantity") from None
        raise
    # The row is locked by the reservation: these are the terms the units were taken at.
    listing = db.execute(select(Listing.id, Listing.title, Listing.price_atomic).where(Listing.id == listing_id)).one()
    amount = checks.check_total(listing.price_atomic, quantity, settings)
    order = Order(
        buyer_id=buyer.id,
        vendor_id=vendor.id,
        listing_id=listing.id,
        listing_title=listing.title,
        unit_price_atomic=listing.price_atomic,
        quantity=quantity,
        amount_atomic=amount,
        fee_basis_points=settings.fee_basis_points,
        fee_address=settings.fee_address,
        vendor_address=vendor.payout_address,
        refund_address=refund_address,
        confirmations=settings.confirmations,
        payment_window_seconds=settings.payment_window_seconds,
        ship_window_seconds=settings.ship_window_seconds,
        finalize_window_seconds=settings.finalize_window_seconds,
        finalize_extension_seconds=settings.finalize_extension_seconds,
        state=S.PLACED,
        placed_at=now,
        received_atomic=0,
        pending_atomic=0,
    )
    db.add(order)
    db.flush()
    if shipping_info is not None:
        order.shipping_info = shipping.seal(settings, order.id, shipping_info)
    _record(db, order.id, Actor(EventActor.BUYER, buyer.id), now, from_state=None, to_state=S.PLACED)
    enqueue(db, SETUP_JOB, order_id=order.id, run_at=now)
    # The payment window runs from when the address is shown; until then this is its latest end.
    _deadline_job(db, order.id, "payment", now + timedelta(seconds=order.payment_window_seconds))
    return order.id


# --- the worker: the escrow is ready ---------------------------------------------------------


def escrow_ready(db: Session, order_id: str, actor: Actor, now: datetime, *, address: str) -> None:
    """placed → awaiting_payment (worker): the escrow's address is shown; the payment window starts now.

    Called once the three wallets agree on the address and are backed up. Calling it again with
    the same address (a retried job) changes nothing; otherwise ``Conflict`` names the state.
    """
    order = _order(db, order_id)
    if order.state is not S.PLACED and order.escrow_address == address:
        return
    _move(
        db,
        order_id,
        actor,
        now,
        expected=S.PLACED,
        to=S.AWAITING_PAYMENT,
        values={
            "escrow_address": address,
            "payment_deadline": now + timedelta(seconds=order.payment_window_seconds),
        },
        refusal="The escrow cannot be shown as ready: the order is {state}.",
    )


# --- the vendor ships ------------------------------------------------------------------------


def ship(db: Session, order_id: str, actor: Actor, now: datetime, *, note: str | None = None) -> None:
    """funded → shipped (the vendor, with an optional note); queues the finalize deadline."""
    _require(actor, EventActor.VENDOR, message="Only the vendor ships an order.")
    text = checks.check_optional_text(note, field="note", label="note", max_length=checks.NOTE_MAX_LENGTH)
    order = _order(db, order_id)
    _move(
        db,
        order_id,
        actor,
        now,
        expected=S.FUNDED,
        to=S.SHIPPED,
        values={"shipped_at": now, "ship_note": text},
        refusal="Only a funded order can be shipped; this one is {state}.",
    )
    _deadline_job(db, order_id, "finalize", now + timedelta(seconds=order.finalize_window_seconds))


# --- the buyer confirms ----------------------------------------------------------------------


def confirm(db: Session, order_id: str, actor: Actor, now: datetime) -> None:
    """funded or shipped → paying_out, release (the buyer; signed by buyer and vendor)."""
    _require(actor, EventActor.BUYER, message="Only the buyer confirms that an order arrived.")

    def attempt() -> None:
        order = _order(db, order_id)
        if order.state not in (S.FUNDED, S.SHIPPED):
            raise Conflict(
                f"Only a funded or shipped order can be confirmed; this one is {_said(order.state)}.", state=order.state
            )
        _settle(
            db,
            order,
            actor,
            now,
            expected=order.state,
            outcome=Outcome.RELEASE,
            signers=(SignerRole.BUYER, SignerRole.VENDOR),
            refusal="Only a funded or shipped order can be confirmed; this one is {state}.",
            reason="The buyer confirmed: the payment goes to the vendor.",
        )

    _with_retries(attempt)


def _said(state: OrderState) -> str:
    return state.value.replace("_", " ")


# --- the buyer extends the finalize deadline -------------------------------------------------


def extend(db: Session, order_id: str, actor: Actor, now: datetime) -> datetime:
    """shipped → shipped, the finalize deadline later by the extension fixed at placement (the buyer, once).

    Refused (``Conflict``) unless the order is shipped, not extended before, and its finalize
    deadline has not passed (whether or not its job has run). The compare-and-set names the state
    and "not extended yet": of two extensions at once one wins, the other is told it was extended;
    a finalize deadline applied meanwhile wins over it (the state moved). Returns the new deadline.
    The deadline job already queued finds it early and puts itself back (``on_deadline``).
    """
    _require(actor, EventActor.BUYER, message="Only the buyer can extend the finalize deadline.")

    def attempt() -> datetime:
        order = _order(db, order_id)
        if order.state is not S.SHIPPED:
            raise Conflict(
                f"Only a shipped order's finalize deadline can be extended; this one is {_said(order.state)}.",
                state=order.state,
            )
        if order.finalize_extended_at is not None:
            raise Conflict("The finalize deadline has already been extended once.", state=order.state)
        if order.finalize_extension_seconds <= 0:
            raise Conflict("This order was placed before deadlines could be extended.", state=order.state)
        if now >= _finalize_at(order):
            raise Conflict(
                "The finalize window has ended: the payment goes to the vendor; the deadline can no longer be "
                "extended.",
                state=order.state,
            )
        new_deadline = _finalize_at(order) + timedelta(seconds=order.finalize_extension_seconds)
        _note(
            db,
            order,
            actor,
            now,
            values={"finalize_extended_at": now},
            where=[Order.finalize_extended_at.is_(None)],
            reason=f"The buyer extended the finalize deadline to {new_deadline:%Y-%m-%d %H:%M} UTC.",
        )
        return new_deadline

    deadline: datetime = _with_retries(attempt)
    return deadline


# --- cancelling ------------------------------------------------------------------------------


class CancelResult(StrEnum):
    CANCELLED = "cancelled"  # before payment: the order ended
    REQUESTED = "requested"  # after payment: asked, waiting for the other party
    WITHDRAWN = "withdrawn"  # the request was taken back
    REFUNDING = "refunding"  # both agreed, or the buyer after the ship window: paying_out, refund


def cancel(db: Session, order_id: str, actor: Actor, now: datetime, *, withdraw: bool = False) -> CancelResult:
    """The buyer or the vendor cancels.

    - Before payment (placed, awaiting_payment): → cancelled at once; the units come back and
      anything that arrived goes back to the buyer.
    - Funded, not shipped, the ship window over, the buyer: → paying_out, refund, signed by buyer
      and arbiter (the vendor missed the window; no agreement needed).
    - Funded or shipped: the first party asks (no state change; a history row), the other agrees
      (→ paying_out, refund, signed by buyer and vendor); ``withdraw`` takes one's own request back.
    - Disputed (a dispute supersedes a request), paying out or ended: ``Conflict``.
    """
    _require(actor, EventActor.BUYER, EventActor.VENDOR, message="Only the buyer or the vendor can cancel an order.")
    party = _party(actor)
    other = Party.VENDOR if party is Party.BUYER else Party.BUYER
    refusal = "This order cannot be cancelled now: it is {state}."

    def attempt() -> CancelResult:
        order = _order(db, order_id)
        state = order.state
        if withdraw:
            if state not in (S.FUNDED, S.SHIPPED) or order.cancel_requested_by is not party:
                raise Conflict("You have no cancellation request to withdraw.", state=state)
            _note(
                db,
                order,
                actor,
                now,
                values={"cancel_requested_by": None, "cancel_requested_at": None},
                where=[Order.cancel_requested_by == party],
                reason=f"The {party.value} withdrew the request to cancel.",
            )
            return CancelResult.WITHDRAWN
        if state in UNPAID_STATES:
            _end_unpaid(
                db,
                order,
                actor,
                now,
                to=S.CANCELLED,
                refusal=refusal,
                reason=f"Cancelled by the {party.value} before payment.",
            )
            return CancelResult.CANCELLED
        if state not in (S.FUNDED, S.SHIPPED):
            raise Conflict(refusal.format(state=_said(state)), state=state)
        if order.cancel_requested_by is other:
            _settle(
                db,
                order,
                actor,
                now,
                expected=state,
                outcome=Outcome.REFUND,
                signers=(SignerRole.BUYER, SignerRole.VENDOR),
                where=[Order.cancel_requested_by == other],
                refusal=refusal,
                reason=f"The {party.value} agreed to the {other.value}'s request to cancel: the payment goes back.",
            )
            return CancelResult.REFUNDING
        if party is Party.BUYER and state is S.FUNDED and now >= _ship_by(order):
            _settle(
                db,
                order,
                actor,
                now,
                expected=S.FUNDED,
                outcome=Outcome.REFUND,
                signers=(SignerRole.BUYER, SignerRole.ARBITER),
                refusal=refusal,
                reason="The vendor did not ship within the ship window; the buyer cancelled: the payment goes back.",
            )
            return CancelResult.REFUNDING
        if order.cancel_requested_by is party:
            raise Conflict(f"You have already asked to cancel; the {other.value} has not agreed yet.", state=state)
        _note(
            db,
            order,
            actor,
            now,
            values={"cancel_requested_by": party, "cancel_requested_at": now},
            where=[Order.cancel_requested_by.is_(None)],
            reason=f"The {party.value} asked to cancel; the {other.value} may agree.",
        )
        return CancelResult.REQUESTED

    result: CancelResult = _with_retries(attempt)
    return result


def _note(
    db: Session,
    order: Order,
    actor: Actor,
    now: datetime,
    *,
    values: dict[str, Any],
    where: Sequence[ColumnElement[bool]],
    reason: str,
    txids: Iterable[str] = (),
) -> None:
    """A change that keeps the state (a cancellation asked or withdrawn, a dispute taken), with its history row."""
    _try_move(
        db,
        order.id,
        actor,
        now,
        expected=order.state,
        to=order.state,
        values=values,
        where=where,
        refusal="This order changed meanwhile: it is {state}.",
        reason=reason,
        txids=txids,
    )


def _ship_by(order: Order) -> datetime:
    assert order.funded_at is not None  # funded orders have it  # noqa: S101
    return order.funded_at + timedelta(seconds=order.ship_window_seconds)


def _finalize_at(order: Order) -> datetime:
    assert order.shipped_at is not None  # shipped orders have it  # noqa: S101
    return finalize_deadline(order) or order.shipped_at


def finalize_deadline(order: Order) -> datetime | None:
    """When the payment of a shipped order goes to the vendor unless the buyer confirms or disputes first:
    shipped_at + the finalize window, + the extension once the buyer extended it. None before shipping."""
    if order.shipped_at is None:
        return None
    extension = order.finalize_extension_seconds if order.finalize_extended_at is not None else 0
    return order.shipped_at + timedelta(seconds=order.finalize_window_seconds + extension)


def may_extend(order: Order, now: datetime) -> bool:
    """The buyer may extend the finalize deadline now: shipped, not extended yet, the deadline not passed."""
    deadline = finalize_deadline(order)
    return (
        order.state is S.SHIPPED
        and order.finalize_extended_at is None
        and order.finalize_extension_seconds > 0
        and deadline is not None
        and now < deadline
    )


def _arrived_in_time(order: Order, payments: Iterable[EscrowPayment], *, spendable_only: bool) -> int:
    """What was seen paid into the escrow before the payment deadline (spendable now, or also still confirming)."""
    deadline = _payment_deadline(order)
    return sum(
        payment.amount_atomic
        for payment in payments
        if payment.first_seen_at < deadline and (payment.spendable_at is not None or not spendable_only)
    )


def _confirming_grace(order: Order) -> timedelta:
    """How long after the payment deadline a payment seen in time may take to get its confirmations:
    three times the expected time of N blocks (two minutes each)."""
    return timedelta(seconds=3 * 120 * order.confirmations)


def _payment_deadline(order: Order) -> datetime:
    """When an unfunded order expires: the payment window from when the address was shown (from placement before)."""
    if order.payment_deadline is not None:
        return order.payment_deadline
    return order.placed_at + timedelta(seconds=order.payment_window_seconds)


# --- the vendor declines ---------------------------------------------------------------------


def decline(db: Session, order_id: str, actor: Actor, now: datetime) -> None:
    """placed or awaiting_payment → declined (the vendor, before payment)."""
    _require(actor, EventActor.VENDOR, message="Only the vendor can decline an order.")

    def attempt() -> None:
        order = _order(db, order_id)
        if order.state not in UNPAID_STATES:
            raise Conflict(
                f"Only an order not yet paid can be declined; this one is {_said(order.state)}.", state=order.state
            )
        _end_unpaid(
            db,
            order,
            actor,
            now,
            to=S.DECLINED,
            refusal="Only an order not yet paid can be declined; this one is {state}.",
            reason="Declined by the vendor.",
        )

    _with_retries(attempt)


# --- disputes --------------------------------------------------------------------------------


def dispute(db: Session, order_id: str, actor: Actor, now: datetime, *, reason: str | None) -> None:
    """funded or shipped → disputed (the buyer or the vendor, with a reason both parties and the arbiters see).

    A pending cancellation request is superseded. Once the finalize window has ended (by the
    timestamps, whether or not its job has run), a shipped order can no longer be disputed.
    """
    _require(actor, EventActor.BUYER, EventActor.VENDOR, message="Only the buyer or the vendor can open a dispute.")
    text = checks.check_reason(reason, what="the arbiter and the other party read it")
    party = _party(actor)
    refusal = "Only a funded or shipped order can be disputed; this one is {state}."

    def attempt() -> None:
        order = _order(db, order_id)
        if order.state not in (S.FUNDED, S.SHIPPED):
            raise Conflict(refusal.format(state=_said(order.state)), state=order.state)
        if order.state is S.SHIPPED and now >= _finalize_at(order):
            raise Conflict(
                "The finalize window has ended: the payment goes to the vendor; the order can no longer be disputed.",
                state=order.state,
            )
        _try_move(
            db,
            order_id,
            actor,
            now,
            expected=order.state,
            to=S.DISPUTED,
            values={
                "dispute_opened_by": party,
                "dispute_reason": text,
                "dispute_opened_at": now,
                "dispute_last_activity_at": now,
                "cancel_requested_by": None,
                "cancel_requested_at": None,
            },
            refusal=refusal,
            reason=f"The {party.value} opened a dispute: {text}",
        )

    _with_retries(attempt)


def dispute_untaken() -> ColumnElement[bool]:
    """SQL: the order's dispute is nobody's: not taken, or taken by an arbiter whose account is no
    longer active (suspended or deleted), so that another arbiter can take it over."""
    inactive = select(User.id).where(User.status != AccountStatus.ACTIVE)
    return Order.arbiter_id.is_(None) | Order.arbiter_id.in_(inactive)


def claim_lapsed(db: Session, order: Order) -> bool:
    """``order``'s dispute was taken by an arbiter whose account is no longer active (see ``dispute_untaken``)."""
    if order.arbiter_id is None:
        return False
    status = db.scalar(select(User.status).where(User.id == order.arbiter_id))
    return status is not AccountStatus.ACTIVE


def claim_dispute(db: Session, order_id: str, actor: Actor, now: datetime) -> None:
    """An arbiter takes a dispute (no state change): from now on only they see and decide it.

    Taking one's own dispute again changes nothing; another arbiter's is ``Conflict``, unless that
    arbiter's account is no longer active (then this one takes it over).
    """
    _require(actor, EventActor.ARBITER, message="Only an arbiter can take a dispute.")
    order = _order(db, order_id)
    if order.state is not S.DISPUTED:
        raise Conflict(f"Only an open dispute can be taken; this order is {_said(order.state)}.", state=order.state)
    if order.arbiter_id == actor.user_id:
        return
    lapsed = claim_lapsed(db, order)
    if order.arbiter_id is not None and not lapsed:
        raise Conflict("Another arbiter has taken this dispute.", state=order.state)
    try:
        _note(
            db,
            order,
            actor,
            now,
            values={"arbiter_id": actor.user_id, "dispute_claimed_at": now, "dispute_last_activity_at": now},
            where=[dispute_untaken()],
            reason=(
                "An arbiter took over the dispute: the arbiter who had taken it can no longer act."
                if lapsed
                else "An arbiter took the dispute."
            ),
        )
    except _Stale as stale:
        raise stale.conflict from None


def decide(
    db: Session,
    order_id: str,
    actor: Actor,
    now: datetime,
    *,
    outcome: object,
    buyer_share_atomic: object = None,
    reason: str | None,
) -> None:
    """disputed → paying_out (an arbiter: the one who took it, or the first to decide an untaken one).

    ``outcome`` release (all to the vendor), refund (all back to the buyer) or split (the buyer
    gets ``buyer_share_atomic``, 0 to the amount due, the vendor the rest; any excess paid goes
    back to the buyer in every case). The reason is shown to both parties. Signed by the arbiter
    and the favoured party.
    """
    _require(actor, EventActor.ARBITER, message="Only an arbiter decides a dispute.")
    chosen = checks.check_outcome(outcome)
    share = checks.check_buyer_share(buyer_share_atomic)
    text = checks.check_reason(reason, what="both parties read why the arbiter decided so")
    order = _order(db, order_id)
    share = _decided_share(order, chosen, share)
    if chosen is Outcome.RELEASE:
        favoured = SignerRole.VENDOR
    elif chosen is Outcome.REFUND or 2 * share >= order.amount_atomic:
        favoured = SignerRole.BUYER
    else:
        favoured = SignerRole.VENDOR
    refusal = "Only an open dispute can be decided; this order is {state}."
    if order.state is not S.DISPUTED:
        raise Conflict(refusal.format(state=_said(order.state)), state=order.state)
    if order.arbiter_id not in (None, actor.user_id) and not claim_lapsed(db, order):
        raise Conflict("Another arbiter has taken this dispute.", state=order.state)
    try:
        _settle(
            db,
            order,
            actor,
            now,
            expected=S.DISPUTED,
            outcome=chosen,
            signers=(SignerRole.ARBITER, favoured),
            buyer_share_atomic=share,
            values={
                "arbiter_id": actor.user_id,
                "dispute_claimed_at": order.dispute_claimed_at or now,
                "dispute_last_activity_at": now,
                "decision_outcome": chosen,
                "decision_buyer_share_atomic": share,
                "decision_reason": text,
                "decided_at": now,
            },
            where=[dispute_untaken() | (Order.arbiter_id == actor.user_id)],
            refusal=refusal,
            reason=f"The arbiter decided: {chosen.value}. {text}",
        )
    except _Stale as stale:
        raise stale.conflict from None


def _decided_share(order: Order, outcome: Outcome, share: int | None) -> int:
    """The buyer's share of the amount due: 0 for a release, all of it for a refund, the given one for a split."""
    if outcome is Outcome.SPLIT:
        if share is None:
            raise InvalidInput("A split needs the buyer's share (buyer_share_atomic).", field="buyer_share_atomic")
        if share > order.amount_atomic:
            raise InvalidInput(
                f"The buyer's share is at most the amount due, {order.amount_atomic} piconero "
                f"({format_xmr(order.amount_atomic)} XMR).",
                field="buyer_share_atomic",
            )
        return share
    if share is not None:
        raise InvalidInput("Only a split takes a buyer's share.", field="buyer_share_atomic")
    return 0 if outcome is Outcome.RELEASE else order.amount_atomic


# --- the worker: payments --------------------------------------------------------------------


@dataclass(frozen=True)
class SeenPayment:
    """A transaction into the escrow as the detector sees it now (coinbase and time-locked outputs left out)."""

    txid: str
    amount_atomic: int
    confirmations: int
    height: int | None = None
    in_pool: bool = False


def record_payments(
    db: Session, order_id: str, actor: Actor, now: datetime, *, payments: Sequence[SeenPayment], height: int | None
) -> OrderState:
    """Store what the escrow has received (worker) and move the order if that changes anything. Returns its state.

    ``payments`` is every incoming transaction the detector sees now; a pool transaction it no
    longer lists (dropped) is forgotten. A payment counts (``received_atomic``) from
    ``confirmations`` (the order's N) on; before that it is ``pending_atomic``.

    - awaiting_payment → funded when the spendable payments first seen before the payment
      deadline cover the amount due: a payment seen in time (in the pool, or mined with fewer
      than N confirmations) funds the order once it is confirmed, even after the deadline (which
      waits for it: ``on_deadline``); one first seen after the deadline does not. Less keeps
      waiting, and the order shows what is missing.
    - A payment that becomes spendable once the order is paying out or has ended (cancelled,
      declined, expired, settled) queues a ``return`` payout and a history row. The worker polls
      ended orders only within ``MARKETPLACE_LATE_PAYMENT_WATCH_SECONDS`` (``watched_orders``).
    """
    order: Order | None = select_for_update(db, select(Order).where(Order.id == order_id)).scalar_one_or_none()
    if order is None:
        raise NotFound("There is no such order.")
    seen = {payment.txid: payment for payment in payments}
    stored = {row.txid: row for row in db.scalars(select(EscrowPayment).where(EscrowPayment.order_id == order_id))}
    newly_spendable: list[EscrowPayment] = []
    for txid, row in stored.items():
        if txid not in seen and row.in_pool:
            db.delete(row)
    for txid, payment in seen.items():
        known = stored.get(txid)
        if known is None:
            row = EscrowPayment(order_id=order_id, txid=txid, amount_atomic=payment.amount_atomic, first_seen_at=now)
            db.add(row)
        else:
            row = known
        row.amount_atomic = payment.amount_atomic
        row.confirmations = payment.confirmations
        row.height = payment.height
        row.in_pool = payment.in_pool
        if row.spendable_at is None and not payment.in_pool and payment.confirmations >= order.confirmations:
            row.spendable_at = now
            newly_spendable.append(row)
    db.flush()
    rows = list(db.scalars(select(EscrowPayment).where(EscrowPayment.order_id == order_id)))
    received = sum(row.amount_atomic for row in rows if row.spendable_at is not None)
    pending = sum(row.amount_atomic for row in rows if row.spendable_at is None)
    db.execute(
        update(Order)
        .where(Order.id == order_id)
        .values(received_atomic=received, pending_atomic=pending, payments_checked_height=height)
        .execution_options(synchronize_session=False)
    )
    state = order.state
    if state is S.AWAITING_PAYMENT and _arrived_in_time(order, rows, spendable_only=True) >= order.amount_atomic:
        _move(
            db,
            order_id,
            actor,
            now,
            expected=S.AWAITING_PAYMENT,
            to=S.FUNDED,
            values={"funded_at": now},
            refusal="The order cannot be funded: it is {state}.",
            reason=f"Paid: {format_xmr(received)} XMR received with {order.confirmations} confirmations.",
            txids=[row.txid for row in rows if row.spendable_at is not None],
        )
        return S.FUNDED
    if newly_spendable and (state in END_STATES or state is S.PAYING_OUT):
        late = sum(row.amount_atomic for row in newly_spendable)
        _record(
            db,
            order_id,
            actor,
            now,
            from_state=state,
            to_state=state,
            reason=f"{format_xmr(late)} XMR arrived after the order was {_said(state)}; it goes back to the buyer.",
            txids=[row.txid for row in newly_spendable],
        )
        _return_job(db, order_id, now)
    return state


def watched_orders(db: Session, now: datetime, *, late_payment_watch_seconds: int) -> list[str]:
    """The orders whose escrow the worker watches for payments: open ones, and ended ones within the watch horizon."""
    horizon = now - timedelta(seconds=late_payment_watch_seconds)
    statement = select(Order.id).where(
        Order.escrow_address.is_not(None),
        Order.state.not_in(END_STATES) | (Order.ended_at >= horizon),
    )
    return list(db.scalars(statement.order_by(Order.placed_at, Order.id)))


# --- deadlines -------------------------------------------------------------------------------


class DeadlineResult(StrEnum):
    APPLIED = "applied"  # the order moved
    RESCHEDULED = "rescheduled"  # too early: a new job waits for the deadline
    MOOT = "moot"  # the order is no longer where this deadline applies


def on_deadline(db: Session, order_id: str, actor: Actor, now: datetime, *, deadline: str) -> DeadlineResult:
    """Apply the ``payment`` or ``finalize`` deadline as of ``now`` (the ``escrow.deadline`` job).

    - payment: placed or awaiting_payment → expired once ``now`` ≥ the payment deadline; the units
      come back, and whatever arrived goes back to the buyer (a ``return`` payout). While the
      payments seen before the deadline would cover the amount due but some still lack their
      confirmations, it waits (RESCHEDULED, a minute later), at most ``_confirming_grace`` after
      the deadline: ``record_payments`` funds the order once they are confirmed.
    - finalize: shipped → paying_out, release signed by vendor and arbiter, once ``now`` ≥ shipped_at
      + the finalize window (+ the extension, once the buyer extended it).

    Before the deadline: a new job at the deadline, nothing else (RESCHEDULED). An order that moved
    on: nothing (MOOT). A lost race with a party (a dispute at the same moment) is MOOT as well.
    """
    if deadline not in ("payment", "finalize"):
        raise InvalidInput("A deadline is payment or finalize.", field="deadline")
    apply = _payment_deadline_passes if deadline == "payment" else _finalize_deadline_passes
    for _ in range(_RETRIES):
        try:
            return apply(db, _order(db, order_id), actor, now)
        except _Stale:
            continue  # a party moved the order at the same moment: see where it is now
    return DeadlineResult.MOOT


def _payment_deadline_passes(db: Session, order: Order, actor: Actor, now: datetime) -> DeadlineResult:
    if order.state not in UNPAID_STATES:
        return DeadlineResult.MOOT
    due = _payment_deadline(order)
    if now < due:
        _deadline_job(db, order.id, "payment", due)
        return DeadlineResult.RESCHEDULED
    if order.state is S.AWAITING_PAYMENT and now < due + _confirming_grace(order):
        rows = db.scalars(select(EscrowPayment).where(EscrowPayment.order_id == order.id))
        if _arrived_in_time(order, rows, spendable_only=False) >= order.amount_atomic:
            # Paid in time, not yet confirmed N times: ``record_payments`` funds it once it is;
            # look again in a while (a payment dropped from the pool does not count any more).
            _deadline_job(db, order.id, "payment", now + _CONFIRMING_RECHECK)
            return DeadlineResult.RESCHEDULED
    missing = max(order.amount_atomic - order.received_atomic, 0)
    _end_unpaid(
        db,
        order,
        actor,
        now,
        to=S.EXPIRED,
        refusal="The order cannot expire: it is {state}.",
        reason=f"The payment window ended with {format_xmr(missing)} XMR missing.",
    )
    return DeadlineResult.APPLIED


def _finalize_deadline_passes(db: Session, order: Order, actor: Actor, now: datetime) -> DeadlineResult:
    if order.state is not S.SHIPPED:
        return DeadlineResult.MOOT
    due = _finalize_at(order)
    if now < due:
        _deadline_job(db, order.id, "finalize", due)
        return DeadlineResult.RESCHEDULED
    # An extension written since the order was read moves the deadline: the write matches only the
    # order as read (``on_deadline`` reads it again and finds the deadline later).
    extended = (
        Order.finalize_extended_at.is_(None)
        if order.finalize_extended_at is None
        else Order.finalize_extended_at == order.finalize_extended_at
    )
    _settle(
        db,
        order,
        actor,
        now,
        expected=S.SHIPPED,
        where=[extended],
        outcome=Outcome.RELEASE,
        signers=(SignerRole.VENDOR, SignerRole.ARBITER),
        refusal="The finalize deadline cannot apply: the order is {state}.",
        reason="The buyer did not confirm or dispute within the finalize window: the payment goes to the vendor.",
    )
    return DeadlineResult.APPLIED


# --- the worker: payouts ---------------------------------------------------------------------


_SETTLE_PURPOSES = frozenset({PayoutPurpose.RELEASE, PayoutPurpose.REFUND, PayoutPurpose.SPLIT})


def payout_signed(
    db: Session,
    order_id: str,
    actor: Actor,
    now: datetime,
    *,
    purpose: PayoutPurpose,
    proposer: SignerRole,
    cosigner: SignerRole,
    destinations: Sequence[dict[str, Any]],
    network_fee_atomic: int,
    signed_tx_hex: str,
    txids: Sequence[str],
    key_images: Sequence[str],
) -> int:
    """Save a fully signed payout attempt BEFORE it is submitted (worker); returns the attempt's row id.

    A settling purpose must be the order's (paying_out with that outcome), else ``Conflict``; a
    ``return`` may be saved in any state. Attempts are numbered per order (1, 2, ...).
    """
    order = select_for_update(db, select(Order).where(Order.id == order_id)).scalar_one_or_none()
    if order is None:
        raise NotFound("There is no such order.")
    if purpose in _SETTLE_PURPOSES and (
        order.state is not S.PAYING_OUT or order.payout_outcome is None or order.payout_outcome.value != purpose.value
    ):
        raise Conflict(
            f"This order is not paying out a {purpose.value}: it is {_said(order.state)}.", state=order.state
        )
    last = db.scalar(select(func.max(EscrowPayout.attempt)).where(EscrowPayout.order_id == order_id)) or 0
    payout = EscrowPayout(
        order_id=order_id,
        attempt=last + 1,
        purpose=purpose,
        proposer=proposer,
        cosigner=cosigner,
        destinations=[dict(destination) for destination in destinations],
        network_fee_atomic=network_fee_atomic,
        signed_tx_hex=signed_tx_hex,
        txids=list(txids),
        key_images=list(key_images),
        state=PayoutState.SIGNED,
        created_at=now,
    )
    db.add(payout)
    db.flush()
    return payout.id


def payout_submitted(db: Session, payout_id: int, actor: Actor, now: datetime) -> None:
    """The attempt was handed to the daemon (worker): signed → submitted. Again changes nothing."""
    payout = db.get(EscrowPayout, payout_id, populate_existing=True)
    if payout is None:
        raise NotFound("There is no such payout.")
    if payout.state is PayoutState.SUBMITTED:
        return
    compare_and_set(
        db,
        update(EscrowPayout)
        .where(EscrowPayout.id == payout_id, EscrowPayout.state == PayoutState.SIGNED)
        .values(state=PayoutState.SUBMITTED, submitted_at=now),
        refused=lambda: Conflict(f"This payout attempt is {payout.state.value}.", state=payout.state.value),
    )


def payout_superseded(db: Session, payout_id: int, actor: Actor, now: datetime) -> None:
    """The attempt can never be mined (another attempt spent its inputs) (worker): → superseded."""
    db.execute(
        update(EscrowPayout)
        .where(EscrowPayout.id == payout_id, EscrowPayout.state.in_([PayoutState.SIGNED, PayoutState.SUBMITTED]))
        .values(state=PayoutState.SUPERSEDED)
        .execution_options(synchronize_session=False)
    )


def payout_confirmed(db: Session, payout_id: int, actor: Actor, now: datetime, *, confirmations: int) -> OrderState:
    """Record a submitted attempt's confirmations (worker); at the order's N it is done. Returns the order's state.

    At N: the attempt → confirmed, the order's other open attempts → superseded (at most one can
    be mined: each spends every output). A settling payout ends the order: paying_out →
    completed (a release), refunded (a refund), resolved (after a dispute decision); the units
    come back when the money went back (refund, or a refund decision). A ``return`` leaves the
    state as it is and adds a history row with its transaction ids.
    """
    payout = db.get(EscrowPayout, payout_id, populate_existing=True)
    if payout is None:
        raise NotFound("There is no such payout.")
    order = _order(db, payout.order_id)
    if payout.state is PayoutState.CONFIRMED:
        return order.state
    if payout.state is not PayoutState.SUBMITTED:
        raise Conflict(
            f"Only a submitted payout can be confirmed; this one is {payout.state.value}.", state=payout.state.value
        )
    db.execute(
        update(EscrowPayout)
        .where(EscrowPayout.id == payout_id)
        .values(confirmations=confirmations)
        .execution_options(synchronize_session=False)
    )
    if confirmations < order.confirmations:
        return order.state
    compare_and_set(
        db,
        update(EscrowPayout)
        .where(EscrowPayout.id == payout_id, EscrowPayout.state == PayoutState.SUBMITTED)
        .values(state=PayoutState.CONFIRMED, confirmed_at=now),
        refused=lambda: Conflict("This payout attempt changed meanwhile.", state="changed"),
    )
    db.execute(
        update(EscrowPayout)
        .where(
            EscrowPayout.order_id == order.id,
            EscrowPayout.id != payout_id,
            EscrowPayout.state.in_([PayoutState.SIGNED, PayoutState.SUBMITTED]),
            EscrowPayout.purpose.in_(_SETTLE_PURPOSES)
            if payout.purpose in _SETTLE_PURPOSES
            else EscrowPayout.purpose == PayoutPurpose.RETURN,
        )
        .values(state=PayoutState.SUPERSEDED)
        .execution_options(synchronize_session=False)
    )
    paid = ", ".join(
        f"{format_xmr(int(destination['amount_atomic']))} XMR to the {destination['role'].replace('_', ' ')}"
        for destination in payout.destinations
    )
    if payout.purpose is PayoutPurpose.RETURN:
        _record(
            db,
            order.id,
            actor,
            now,
            from_state=order.state,
            to_state=order.state,
            reason=f"Returned: {paid}.",
            txids=payout.txids,
        )
        return order.state
    if order.decided_at is not None:
        end = S.RESOLVED
    elif order.payout_outcome is Outcome.REFUND:
        end = S.REFUNDED
    else:
        end = S.COMPLETED
    _move(
        db,
        order.id,
        actor,
        now,
        expected=S.PAYING_OUT,
        to=end,
        values={"ended_at": now},
        refusal="The payout cannot end the order: it is {state}.",
        reason=f"Paid out with {confirmations} confirmations: {paid}.",
        txids=payout.txids,
    )
    if order.payout_outcome is Outcome.REFUND:
        _return_stock(db, order)
    return end


# --- shipping details ------------------------------------------------------------------------


def erase_old_shipping_info(db: Session, now: datetime) -> int:
    """Erase the shipping details of orders that ended 30 days ago or more (worker); returns how many."""
    result = db.execute(
        update(Order)
        .where(Order.shipping_info.is_not(None), Order.ended_at <= now - SHIPPING_INFO_KEPT)
        .values(shipping_info=None, shipping_info_erased_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


__all__ = [
    "DEADLINE",
    "WORKER",
    "Actor",
    "CancelResult",
    "DeadlineResult",
    "NewOrder",
    "SeenPayment",
    "cancel",
    "claim_dispute",
    "claim_lapsed",
    "confirm",
    "decide",
    "decline",
    "dispute",
    "dispute_untaken",
    "erase_old_shipping_info",
    "escrow_ready",
    "extend",
    "finalize_deadline",
    "may_extend",
    "on_deadline",
    "payout_confirmed",
    "payout_signed",
    "payout_submitted",
    "payout_superseded",
    "place",
    "record_payments",
    "ship",
    "watched_orders",
]
