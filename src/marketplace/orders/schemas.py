"""API shapes of orders: what a client sends (``*In``) and what it gets back (``*Out``).

Inputs are strict (no coercion: a quantity sent as ``"2"`` is refused) and forbid unknown fields.
Ranges and text rules are enforced by ``orders/checks.py`` (422 naming the field) and stated here
for the document (``enforced``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from marketplace.api_schema import ApiInput, enforced
from marketplace.db.base import MAX_ID
from marketplace.listings.services import STOCK_MAX
from marketplace.monero.amounts import format_xmr
from marketplace.orders import checks, states
from marketplace.orders.models import EventActor, Order, OrderState, Outcome, Party, PayoutPurpose, PayoutState
from marketplace.orders.sales import SalesSummary, Tally
from marketplace.orders.services import OrderView
from marketplace.pagination import Page
from marketplace.settings import SignerRole
from marketplace.text import TextKind, json_schema_pattern

_MULTILINE = json_schema_pattern(TextKind.MULTILINE)
_STRICT = ConfigDict(extra="forbid", strict=True)


class OrderIn(ApiInput):
    model_config = _STRICT

    listing_id: int = Field(description="The listing to order.", json_schema_extra=enforced(minimum=1, maximum=MAX_ID))
    quantity: int = Field(
        description="Units to order: 1 to the listing's stock. The total (price × quantity) must be at least the "
        "site's minimum order and at most 1,000,000 XMR.",
        json_schema_extra=enforced(minimum=1, maximum=STOCK_MAX),
    )
    refund_address: str = Field(
        description="Your Monero address (standard or subaddress, of the site's network) where a refund, an excess "
        "or a late payment goes back."
    )
    shipping_info: str | None = Field(
        default=None,
        description=f"Where to ship, up to {checks.SHIPPING_INFO_MAX_LENGTH:,} characters; stored encrypted, shown "
        "only to the vendor (and to the arbiter of a dispute), erased 30 days after the order ends.",
        json_schema_extra=enforced(max_length=checks.SHIPPING_INFO_MAX_LENGTH),
    )


class ShipIn(ApiInput):
    model_config = _STRICT

    note: str | None = Field(
        default=None,
        description=f"A note for the buyer (a tracking number...), up to {checks.NOTE_MAX_LENGTH:,} characters.",
        json_schema_extra=enforced(max_length=checks.NOTE_MAX_LENGTH),
    )


class ConfirmIn(ApiInput):
    model_config = _STRICT

    totp_code: str | None = Field(default=None, description="The current two-factor code, when two-factor is on.")


class CancelIn(ApiInput):
    model_config = _STRICT

    withdraw: bool = Field(default=False, description="Take back your own request to cancel.")


_REASON_RULES = enforced(pattern=_MULTILINE, min_length=1, max_length=checks.REASON_MAX_LENGTH)


class DisputeIn(ApiInput):
    model_config = _STRICT

    reason: str = Field(
        description=f"What went wrong, 1 to {checks.REASON_MAX_LENGTH:,} characters; the other party and the "
        "arbiters read it.",
        json_schema_extra=_REASON_RULES,
    )


class DecisionIn(ApiInput):
    model_config = _STRICT

    outcome: str = Field(
        description="release (all to the vendor), refund (all back to the buyer) or split.",
        json_schema_extra=enforced(choices=[outcome.value for outcome in Outcome]),
    )
    buyer_share_atomic: int | None = Field(
        default=None,
        description="A split only: the buyer's share of the amount due, in piconero (0 to the amount due); the "
        "vendor gets the rest. Any excess paid goes back to the buyer whatever the outcome.",
        json_schema_extra=enforced(minimum=0, maximum=checks.MAX_ORDER_ATOMIC),
    )
    reason: str = Field(
        description=f"Why, 1 to {checks.REASON_MAX_LENGTH:,} characters; both parties read it.",
        json_schema_extra=_REASON_RULES,
    )
    totp_code: str | None = Field(default=None, description="The current two-factor code, when two-factor is on.")


class PartyOut(BaseModel):
    id: int
    username: str


class TermsOut(BaseModel):
    """Fixed when the order was placed."""

    listing_id: int | None
    listing_title: str
    unit_price_atomic: int
    quantity: int
    amount_atomic: int
    amount_xmr: str
    fee_basis_points: int = Field(description="The marketplace fee on the vendor's part (150 = 1.5%).")
    fee_address: str | None
    vendor_address: str = Field(description="Where the vendor is paid.")
    refund_address: str = Field(description="Where a refund, an excess or a late payment goes back to the buyer.")
    confirmations: int = Field(description="Confirmations a payment (and a payout) needs.")
    payment_window_seconds: int
    ship_window_seconds: int
    finalize_window_seconds: int
    finalize_extension_seconds: int = Field(
        description="How much later the finalize deadline falls if the buyer extends it (once, while shipped); "
        "0 for an order placed before extensions existed."
    )


class PaymentOut(BaseModel):
    txid: str
    amount_atomic: int
    confirmations: int
    in_pool: bool


class DestinationOut(BaseModel):
    role: str
    address: str
    amount_atomic: int


class PayoutOut(BaseModel):
    txid: str | None
    txids: list[str]
    purpose: PayoutPurpose
    state: PayoutState
    destinations: list[DestinationOut]
    network_fee_atomic: int
    confirmations: int


class EscrowOut(BaseModel):
    address: str | None = Field(description="Where to pay; null while the escrow is being set up.")
    amount_due_atomic: int
    received_atomic: int = Field(description="Received and spendable: each payment with the confirmations needed.")
    pending_atomic: int = Field(description="Seen, not yet confirmed enough to count.")
    missing_atomic: int = Field(description="What is still to pay (0 once the amount due is received).")
    confirmations: int = Field(description="Confirmations each payment needs.")
    expires_at: datetime | None = Field(description="The end of the payment window (while awaiting payment).")
    payments: list[PaymentOut]
    payouts: list[PayoutOut]
    payout_confirmations: int | None = Field(description="Confirmations of the latest payout submitted, if any.")


class CancelRequestOut(BaseModel):
    by: Party
    at: datetime


class DisputeOut(BaseModel):
    opened_by: Party
    reason: str
    opened_at: datetime
    arbiter: PartyOut | None
    claimed_at: datetime | None
    overdue: bool = Field(description="Open and untouched for longer than the site's dispute SLA.")


class DecisionOut(BaseModel):
    outcome: Outcome
    buyer_share_atomic: int | None
    reason: str
    decided_at: datetime


class PayoutPlanOut(BaseModel):
    """The settling payout under way: its outcome and the two signers (the proposer first)."""

    outcome: Outcome
    signers: list[SignerRole]
    buyer_share_atomic: int | None


class EventOut(BaseModel):
    at: datetime
    actor: EventActor
    from_state: OrderState | None
    to_state: OrderState
    reason: str | None
    txids: list[str]


class OrderOut(BaseModel):
    id: str
    state: OrderState
    your_role: Literal["buyer", "vendor", "arbiter"]
    buyer: PartyOut
    vendor: PartyOut
    amount_atomic: int = Field(description="The amount due: unit price × quantity.")
    terms: TermsOut
    placed_at: datetime
    funded_at: datetime | None
    ship_by: datetime | None = Field(description="After this, the buyer of an order not shipped may cancel alone.")
    shipped_at: datetime | None
    ship_note: str | None
    finalize_at: datetime | None = Field(
        description="Unless confirmed or disputed before, the payment goes to the vendor then (the extension "
        "included once the buyer extended it)."
    )
    finalize_extended: bool = Field(description="The buyer has extended the finalize deadline (possible once).")
    finalize_extended_at: datetime | None
    ended_at: datetime | None
    escrow: EscrowOut
    cancel_request: CancelRequestOut | None
    dispute: DisputeOut | None
    decision: DecisionOut | None
    payout: PayoutPlanOut | None
    shipping_info: str | None = Field(description="Shown to the vendor, and to the arbiter of a dispute; else null.")
    history: list[EventOut]


class OrderSummaryOut(BaseModel):
    id: str
    state: OrderState
    listing_title: str
    quantity: int
    amount_atomic: int
    placed_at: datetime
    dispute_opened_at: datetime | None
    overdue: bool = Field(description="An open dispute untouched for longer than the site's dispute SLA.")


class OrderPageOut(BaseModel):
    items: list[OrderSummaryOut]
    total: int
    page: int
    page_size: int


def _party(user: Any) -> PartyOut:
    return PartyOut(id=user.id, username=user.username)


def _after(moment: datetime | None, seconds: int) -> datetime | None:
    return None if moment is None else moment + timedelta(seconds=seconds)


def order_out(seen: OrderView) -> OrderOut:
    order = seen.order
    latest = seen.payouts[-1] if seen.payouts else None
    missing = max(order.amount_atomic - order.received_atomic, 0)
    return OrderOut(
        id=order.id,
        state=order.state,
        your_role=seen.viewer.kind.value,  # buyer, vendor or arbiter for a viewer
        buyer=_party(seen.buyer),
        vendor=_party(seen.vendor),
        amount_atomic=order.amount_atomic,
        terms=TermsOut(
            listing_id=order.listing_id,
            listing_title=order.listing_title,
            unit_price_atomic=order.unit_price_atomic,
            quantity=order.quantity,
            amount_atomic=order.amount_atomic,
            amount_xmr=format_xmr(order.amount_atomic),
            fee_basis_points=order.fee_basis_points,
            fee_address=order.fee_address,
            vendor_address=order.vendor_address,
            refund_address=order.refund_address,
            confirmations=order.confirmations,
            payment_window_seconds=order.payment_window_seconds,
            ship_window_seconds=order.ship_window_seconds,
            finalize_window_seconds=order.finalize_window_seconds,
            finalize_extension_seconds=order.finalize_extension_seconds,
        ),
        placed_at=order.placed_at,
        funded_at=order.funded_at,
        ship_by=_after(order.funded_at, order.ship_window_seconds) if order.shipped_at is None else None,
        shipped_at=order.shipped_at,
        ship_note=order.ship_note,
        finalize_at=states.finalize_deadline(order),
        finalize_extended=order.finalize_extended_at is not None,
        finalize_extended_at=order.finalize_extended_at,
        ended_at=order.ended_at,
        escrow=EscrowOut(
            address=order.escrow_address,
            amount_due_atomic=order.amount_atomic,
            received_atomic=order.received_atomic,
            pending_atomic=order.pending_atomic,
            missing_atomic=missing,
            confirmations=order.confirmations,
            expires_at=order.payment_deadline if order.state is OrderState.AWAITING_PAYMENT else None,
            payments=[
                PaymentOut(
                    txid=payment.txid,
                    amount_atomic=payment.amount_atomic,
                    confirmations=payment.confirmations,
                    in_pool=payment.in_pool,
                )
                for payment in seen.payments
            ],
            payouts=[
                PayoutOut(
                    txid=payout.txids[0] if payout.txids else None,
                    txids=payout.txids,
                    purpose=payout.purpose,
                    state=payout.state,
                    destinations=[DestinationOut(**destination) for destination in payout.destinations],
                    network_fee_atomic=payout.network_fee_atomic,
                    confirmations=payout.confirmations,
                )
                for payout in seen.payouts
            ],
            payout_confirmations=latest.confirmations if latest is not None else None,
        ),
        cancel_request=(
            CancelRequestOut(by=order.cancel_requested_by, at=order.cancel_requested_at)
            if order.cancel_requested_by is not None and order.cancel_requested_at is not None
            else None
        ),
        dispute=(
            DisputeOut(
                opened_by=order.dispute_opened_by,
                reason=order.dispute_reason or "",
                opened_at=order.dispute_opened_at,
                arbiter=_party(seen.arbiter) if seen.arbiter is not None else None,
                claimed_at=order.dispute_claimed_at,
                overdue=seen.overdue,
            )
            if order.dispute_opened_by is not None and order.dispute_opened_at is not None
            else None
        ),
        decision=(
            DecisionOut(
                outcome=order.decision_outcome,
                buyer_share_atomic=order.decision_buyer_share_atomic,
                reason=order.decision_reason or "",
                decided_at=order.decided_at,
            )
            if order.decision_outcome is not None and order.decided_at is not None
            else None
        ),
        payout=(
            PayoutPlanOut(
                outcome=order.payout_outcome,
                signers=[order.payout_proposer, order.payout_cosigner],
                buyer_share_atomic=order.payout_buyer_share_atomic,
            )
            if order.payout_outcome is not None and order.payout_proposer is not None and order.payout_cosigner
            else None
        ),
        shipping_info=seen.shipping_info,
        history=[
            EventOut(
                at=event.at,
                actor=event.actor,
                from_state=event.from_state,
                to_state=event.to_state,
                reason=event.reason,
                txids=event.txids,
            )
            for event in seen.events
        ],
    )


def page_out(page: Page[Order], overdue: dict[str, bool]) -> OrderPageOut:
    return OrderPageOut(
        items=[
            OrderSummaryOut(
                id=order.id,
                state=order.state,
                listing_title=order.listing_title,
                quantity=order.quantity,
                amount_atomic=order.amount_atomic,
                placed_at=order.placed_at,
                dispute_opened_at=order.dispute_opened_at,
                overdue=overdue.get(order.id, False),
            )
            for order in page.items
        ],
        total=page.total,
        page=page.page,
        page_size=page.page_size,
    )


class TallyOut(BaseModel):
    count: int
    amount_atomic: int = Field(description="The sum of the orders' amounts due (price × quantity), in piconero.")
    amount_xmr: str


class StateTallyOut(TallyOut):
    state: OrderState


class MonthOut(BaseModel):
    month: str = Field(description="YYYY-MM, the UTC month the orders were placed in.")
    orders: TallyOut
    completed: TallyOut = Field(description="Those completed: the vendor was paid.")
    by_state: list[StateTallyOut]


class SalesSummaryOut(BaseModel):
    total: TallyOut = Field(description="Every order ever placed with this vendor.")
    completed: TallyOut = Field(description="Completed: paid out to the vendor.")
    in_escrow: TallyOut = Field(
        description="Paid by the buyer and held in escrow (funded, shipped, disputed, paying out)."
    )
    open_orders: int = Field(description="Orders not yet ended.")
    by_state: list[StateTallyOut]
    by_month: list[MonthOut] = Field(description="Newest month first.")


def _tally(tally: Tally) -> TallyOut:
    return TallyOut(count=tally.count, amount_atomic=tally.amount_atomic, amount_xmr=format_xmr(tally.amount_atomic))


def _states(tallies: dict[OrderState, Tally]) -> list[StateTallyOut]:
    return [StateTallyOut(state=state, **_tally(tally).model_dump()) for state, tally in tallies.items()]


def sales_out(summary: SalesSummary) -> SalesSummaryOut:
    return SalesSummaryOut(
        total=_tally(summary.total),
        completed=_tally(summary.completed),
        in_escrow=_tally(summary.in_escrow),
        open_orders=summary.open_orders,
        by_state=_states(summary.by_state),
        by_month=[
            MonthOut(
                month=month.month,
                orders=_tally(month.orders),
                completed=_tally(month.completed),
                by_state=_states(month.by_state),
            )
            for month in summary.by_month
        ],
    )
