"""orders and their escrow

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

``orders`` (the fixed terms, the state, the escrow's address and amounts, cancellation request,
dispute, decision, the settling payout in progress, encrypted shipping details), ``order_events``
(the append-only history), ``escrow_payments`` and ``escrow_payouts`` (each attempt, saved signed
before it is submitted).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marketplace.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=True),
        sa.Column("listing_title", sa.String(length=120), nullable=False),
        sa.Column("unit_price_atomic", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount_atomic", sa.BigInteger(), nullable=False),
        sa.Column("fee_basis_points", sa.Integer(), nullable=False),
        sa.Column("fee_address", sa.String(length=128), nullable=True),
        sa.Column("vendor_address", sa.String(length=128), nullable=False),
        sa.Column("refund_address", sa.String(length=128), nullable=False),
        sa.Column("confirmations", sa.Integer(), nullable=False),
        sa.Column("payment_window_seconds", sa.Integer(), nullable=False),
        sa.Column("ship_window_seconds", sa.Integer(), nullable=False),
        sa.Column("finalize_window_seconds", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("placed_at", marketplace.db.base.UTCDateTime(), nullable=False),
        sa.Column("payment_deadline", marketplace.db.base.UTCDateTime(), nullable=True),
        sa.Column("funded_at", marketplace.db.base.UTCDateTime(), nullable=True),
        sa.Column("shipped_at", marketplace.db.base.UTCDateTime(), nullable=True),
        sa.Column("ship_note", sa.Text(), nullable=True),
        sa.Column("ended_at", marketplace.db.base.UTCDateTime(), nullable=True),
        sa.Column("escrow_address", sa.String(length=128), nullable=True),
        sa.Column("received_atomic", sa.BigInteger(), nullable=False),
        sa.Column("pending_atomic", sa.BigInteger(), nullable=False),
        sa.Column("payments_checked_height", sa.Integer(), nullable=True),
        sa.Column("cancel_requested_by", sa.String(length=16), nullable=True),
        sa.Column("cancel_requested_at", marketplace.db.base.UTCDateTime(), nullable=True),
        sa.Column("dispute_opened_by", sa.String(length=16), nullable=True),
        sa.Column("dispute_reason", sa.Text(), nullable=True),
        sa.Column("dispute_opened_at", marketplace.db.base.UTCDateTime(), nullable=True),
        sa.Column("arbiter_id", sa.Integer(), nullable=True),
        sa.Column("dispute_claimed_at", marketplace.db.base.UTCDateTime(), nullable=True),
        sa.Column("dispute_last_activity_at", marketplace.db.base.UTCDateTime(), nullable=True),
        sa.Column("decision_outcome", sa.String(length=16), nullable=True),
        sa.Column("decision_buyer_share_atomic", sa.BigInteger(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", marketplace.db.base.UTCDateTime(), nullable=True),
        sa.Column("payout_outcome", sa.String(length=16), nullable=True),
        sa.Column("payout_proposer", sa.String(length=16), nullable=True),
        sa.Column("payout_cosigner", sa.String(length=16), nullable=True),
        sa.Column("payout_buyer_share_atomic", sa.BigInteger(), nullable=True),
        sa.Column("shipping_info", sa.LargeBinary(), nullable=True),
        sa.Column("shipping_info_erased_at", marketplace.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["arbiter_id"], ["users.id"], name=op.f("fk_orders_arbiter_id_users")),
        sa.ForeignKeyConstraint(["buyer_id"], ["users.id"], name=op.f("fk_orders_buyer_id_users")),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_orders_listing_id_listings"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["vendor_id"], ["users.id"], name=op.f("fk_orders_vendor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_arbiter_id", ["arbiter_id"], unique=False)
        batch_op.create_index("ix_orders_buyer_state", ["buyer_id", "state"], unique=False)
        batch_op.create_index("ix_orders_ended_at", ["ended_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_listing_id"), ["listing_id"], unique=False)
        batch_op.create_index("ix_orders_state_dispute_opened", ["state", "dispute_opened_at"], unique=False)
        batch_op.create_index("ix_orders_vendor_placed", ["vendor_id", "placed_at"], unique=False)

    op.create_table(
        "escrow_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("txid", sa.String(length=64), nullable=False),
        sa.Column("amount_atomic", sa.BigInteger(), nullable=False),
        sa.Column("confirmations", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("in_pool", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", marketplace.db.base.UTCDateTime(), nullable=False),
        sa.Column("spendable_at", marketplace.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_escrow_payments_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escrow_payments")),
        sa.UniqueConstraint("order_id", "txid", name="uq_escrow_payments_order_txid"),
    )
    op.create_table(
        "escrow_payouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("proposer", sa.String(length=16), nullable=False),
        sa.Column("cosigner", sa.String(length=16), nullable=False),
        sa.Column("destinations", sa.JSON(), nullable=False),
        sa.Column("network_fee_atomic", sa.BigInteger(), nullable=False),
        sa.Column("signed_tx_hex", sa.Text(), nullable=True),
        sa.Column("txids", sa.JSON(), nullable=False),
        sa.Column("key_images", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("confirmations", sa.Integer(), nullable=False),
        sa.Column("created_at", marketplace.db.base.UTCDateTime(), nullable=False),
        sa.Column("submitted_at", marketplace.db.base.UTCDateTime(), nullable=True),
        sa.Column("confirmed_at", marketplace.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_escrow_payouts_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escrow_payouts")),
        sa.UniqueConstraint("order_id", "attempt", name="uq_escrow_payouts_order_attempt"),
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("at", marketplace.db.base.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("txids", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_order_events_actor_id_users")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_events_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index("ix_order_events_order_id", ["order_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_index("ix_order_events_order_id")

    op.drop_table("order_events")
    op.drop_table("escrow_payouts")
    op.drop_table("escrow_payments")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_vendor_placed")
        batch_op.drop_index("ix_orders_state_dispute_opened")
        batch_op.drop_index(batch_op.f("ix_orders_listing_id"))
        batch_op.drop_index("ix_orders_ended_at")
        batch_op.drop_index("ix_orders_buyer_state")
        batch_op.drop_index("ix_orders_arbiter_id")

    op.drop_table("orders")
