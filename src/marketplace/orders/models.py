"""Order tables: the order with its fixed terms and escrow state, its history, payments and payouts.

An order's terms (price, quantity, total, fee, both payout addresses, confirmations, windows)
are copied onto its row when it is placed and never change: a later change of the listing, the
vendor's payout address or the site's settings does not touch an order already placed.

Accounts are never deleted (closing one marks it deleted), so the order's parties are plain
foreign keys without cascade: an open escrow must go on whatever happens to an account. A listing
row may go (it never does today: deleting a listing marks it deleted), so the order keeps a
snapshot of its title and price and the link is set to NULL.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db.base import Base, UTCDateTime, enum_column, utcnow
from marketplace.settings import SignerRole  # the three keys of a 2-of-3 escrow; a payout needs two


class OrderState(StrEnum):
    """The states of an order, as the API names them (``docs/escrow.md`` draws the machine)."""

    PLACED = "placed"  # the multisig escrow is being set up
    AWAITING_PAYMENT = "awaiting_payment"
    FUNDED = "funded"
    SHIPPED = "shipped"
    DISPUTED = "disputed"
    PAYING_OUT = "paying_out"
    COMPLETED = "completed"  # the vendor was paid (confirmed on chain)
    REFUNDED = "refunded"
    RESOLVED = "resolved"  # a dispute's payout was confirmed
    CANCELLED = "cancelled"
    DECLINED = "declined"
    EXPIRED = "expired"


UNPAID_STATES = frozenset({OrderState.PLACED, OrderState.AWAITING_PAYMENT})
PAID_OPEN_STATES = frozenset({OrderState.FUNDED, OrderState.SHIPPED, OrderState.DISPUTED, OrderState.PAYING_OUT})
END_STATES = frozenset(
    {
        OrderState.COMPLETED,
        OrderState.REFUNDED,
        OrderState.RESOLVED,
        OrderState.CANCELLED,
        OrderState.DECLINED,
        OrderState.EXPIRED,
    }
)


class Party(StrEnum):
    """The two parties of an order (who asked for a cancellation, who opened a dispute)."""

    BUYER = "buyer"
    VENDOR = "vendor"


class Outcome(StrEnum):
    """Where a settling payout sends the money: to the vendor, back to the buyer, or split."""

    RELEASE = "release"
    REFUND = "refund"
    SPLIT = "split"


class PayoutPurpose(StrEnum):
    """Why a payout is made: to settle the order (one of the outcomes) or to return money (``return``)."""

    RELEASE = "release"
    REFUND = "refund"
    SPLIT = "split"
    # Money that must go back to the buyer outside a settlement: what arrived before an order
    # expired, and any payment to an order that is cancelled, declined, expired or settled.
    RETURN = "return"


class EventActor(StrEnum):
    """Who made a transition: a party, an arbiter, the worker (escrow work), or a deadline."""

    BUYER = "buyer"
    VENDOR = "vendor"
    ARBITER = "arbiter"
    WORKER = "worker"
    DEADLINE = "deadline"


class PayoutState(StrEnum):
    """``signed`` (saved before submission), ``submitted``, ``confirmed`` (N confirmations), ``superseded``."""

    SIGNED = "signed"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    SUPERSEDED = "superseded"


def new_order_id() -> str:
    """32 random hex digits: not guessable, and says nothing about how many orders exist."""
    return secrets.token_hex(16)


ORDER_ID_LENGTH = 32
ADDRESS_LENGTH = 128


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_buyer_state", "buyer_id", "state"),
        Index("ix_orders_vendor_placed", "vendor_id", "placed_at"),
        Index("ix_orders_state_dispute_opened", "state", "dispute_opened_at"),
        Index("ix_orders_arbiter_id", "arbiter_id"),
        Index("ix_orders_ended_at", "ended_at"),
    )

    id: Mapped[str] = mapped_column(String(ORDER_ID_LENGTH), primary_key=True, default=new_order_id)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    vendor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    listing_id: Mapped[int | None] = mapped_column(ForeignKey("listings.id", ondelete="SET NULL"), index=True)

    # The terms, fixed at placement.
    listing_title: Mapped[str] = mapped_column(String(120))
    unit_price_atomic: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column()
    amount_atomic: Mapped[int] = mapped_column(BigInteger)  # price × quantity: the amount due
    fee_basis_points: Mapped[int] = mapped_column()
    fee_address: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    vendor_address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    refund_address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    confirmations: Mapped[int] = mapped_column()
    payment_window_seconds: Mapped[int] = mapped_column()
    ship_window_seconds: Mapped[int] = mapped_column()
    finalize_window_seconds: Mapped[int] = mapped_column()
    # How much later the finalize deadline falls if the buyer extends it (once, while shipped).
    finalize_extension_seconds: Mapped[int] = mapped_column(default=0)

    state: Mapped[OrderState] = mapped_column(enum_column(OrderState, 20), default=OrderState.PLACED)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set when the escrow address is shown: the payment window runs from then.
    payment_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    funded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ship_note: Mapped[str | None] = mapped_column(Text)
    # Set when the buyer extended the finalize deadline (by ``finalize_extension_seconds``).
    finalize_extended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # The escrow: its address, and what the worker last saw arrive there.
    escrow_address: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    received_atomic: Mapped[int] = mapped_column(BigInteger, default=0)  # spendable, N confirmations each
    pending_atomic: Mapped[int] = mapped_column(BigInteger, default=0)  # seen, not yet spendable
    payments_checked_height: Mapped[int | None] = mapped_column()
    # The setup attempt under way or done (recorded before its wallets are made: a crashed setup
    # is never resumed, the next attempt makes new wallets) and its wallets' name in every role.
    escrow_setup_attempt: Mapped[int] = mapped_column(default=0)
    escrow_wallet_name: Mapped[str | None] = mapped_column(String(96))

    # A cancellation asked for after funding, waiting for the other party.
    cancel_requested_by: Mapped[Party | None] = mapped_column(enum_column(Party, 16))
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # A dispute, and the arbiter who owns it (the first to claim or decide it).
    dispute_opened_by: Mapped[Party | None] = mapped_column(enum_column(Party, 16))
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    dispute_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    arbiter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    dispute_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dispute_last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # The arbiter's decision, which both parties see.
    decision_outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome, 16))
    decision_buyer_share_atomic: Mapped[int | None] = mapped_column(BigInteger)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # The settling payout, set once when the order enters paying_out: its outcome and its signers.
    payout_outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome, 16))
    payout_proposer: Mapped[SignerRole | None] = mapped_column(enum_column(SignerRole, 16))
    payout_cosigner: Mapped[SignerRole | None] = mapped_column(enum_column(SignerRole, 16))
    payout_buyer_share_atomic: Mapped[int | None] = mapped_column(BigInteger)

    # Shipping details (PyNaCl SecretBox; orders/shipping.py), erased 30 days after the order ends.
    shipping_info: Mapped[bytes | None] = mapped_column(LargeBinary)
    shipping_info_erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def ended(self) -> bool:
        return self.state in END_STATES


class OrderEvent(Base):
    """One transition of an order (append-only): who, when, from and to which state, why, which transactions."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order_id", "order_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[EventActor] = mapped_column(enum_column(EventActor, 16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_state: Mapped[OrderState | None] = mapped_column(enum_column(OrderState, 20))
    to_state: Mapped[OrderState] = mapped_column(enum_column(OrderState, 20))
    reason: Mapped[str | None] = mapped_column(Text)
    txids: Mapped[list[str]] = mapped_column(JSON, default=list)


class EscrowPayment(Base):
    """A transaction that paid into an order's escrow, as the worker last saw it."""

    __tablename__ = "escrow_payments"
    __table_args__ = (UniqueConstraint("order_id", "txid", name="uq_escrow_payments_order_txid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    txid: Mapped[str] = mapped_column(String(64))
    amount_atomic: Mapped[int] = mapped_column(BigInteger)
    confirmations: Mapped[int] = mapped_column(default=0)
    height: Mapped[int | None] = mapped_column()
    in_pool: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When it first counted as spendable (N confirmations); a late payment is returned from then.
    spendable_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EscrowPayout(Base):
    """One payout attempt: saved signed before it is submitted; at most one attempt of an order is ever mined."""

    __tablename__ = "escrow_payouts"
    __table_args__ = (UniqueConstraint("order_id", "attempt", name="uq_escrow_payouts_order_attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column()
    purpose: Mapped[PayoutPurpose] = mapped_column(enum_column(PayoutPurpose, 16))
    proposer: Mapped[SignerRole] = mapped_column(enum_column(SignerRole, 16))
    cosigner: Mapped[SignerRole] = mapped_column(enum_column(SignerRole, 16))
    # Each destination: its role (vendor, buyer or fee), its address and its amount_atomic.
    destinations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    network_fee_atomic: Mapped[int] = mapped_column(BigInteger, default=0)
    signed_tx_hex: Mapped[str | None] = mapped_column(Text)
    txids: Mapped[list[str]] = mapped_column(JSON, default=list)
    key_images: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[PayoutState] = mapped_column(enum_column(PayoutState, 16), default=PayoutState.SIGNED)
    confirmations: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
