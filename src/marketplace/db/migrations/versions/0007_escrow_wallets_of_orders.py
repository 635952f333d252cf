"""which escrow wallets carry an order, and which setup attempt made them

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

``orders.escrow_setup_attempt`` (0 before any) is recorded before the attempt's wallets are made,
so a setup interrupted by a crash is never resumed (the next attempt makes new wallets, named
``orders.escrow_wallet_name``: ``escrow-<order id>-<attempt>``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("escrow_setup_attempt", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("escrow_wallet_name", sa.String(length=96), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("escrow_wallet_name")
        batch.drop_column("escrow_setup_attempt")
