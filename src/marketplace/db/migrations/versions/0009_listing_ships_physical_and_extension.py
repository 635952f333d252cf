"""listings say whether they ship physical goods; the buyer may extend an order's finalize deadline once

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

- ``listings.ships_physical`` (false for the listings there are): the buy form asks for shipping
  details only when it is true. The catalog trigger of migrations 0003 and 0004 names every column shown,
  so it is made again with this one.
- ``orders.finalize_extension_seconds``: the extension fixed at placement (0 for the orders placed
  before this migration: they cannot be extended); ``orders.finalize_extended_at``: when the buyer
  extended it (null: not extended).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marketplace.db.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SHOWN_TRIGGER = "trg_catalog_listings_update_shown"
_BUMP = "UPDATE catalog_version SET version = version + 1 WHERE id = 1"
_SHOWN_BEFORE = (
    "id",
    "vendor_id",
    "title",
    "description",
    "description_format",
    "price_atomic",
    "category",
    "status",
    "hidden_at",
    "created_at",
    "updated_at",
    "search_text",
    "title_key",
)


def _postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _shown_trigger(columns: Sequence[str]) -> None:
    """Make the trigger of migrations 0003 and 0004 again, firing on an UPDATE OF ``columns``."""
    names = ", ".join(columns)
    if _postgresql():
        op.execute(f"DROP TRIGGER IF EXISTS {_SHOWN_TRIGGER} ON listings")
        op.execute(
            f"CREATE TRIGGER {_SHOWN_TRIGGER} AFTER UPDATE OF {names} ON listings "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version()"
        )
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {_SHOWN_TRIGGER}")
        op.execute(
            f"CREATE TRIGGER {_SHOWN_TRIGGER} AFTER UPDATE OF {names} ON listings FOR EACH ROW BEGIN {_BUMP}; END"
        )


def upgrade() -> None:
    # A plain ADD COLUMN (a batch could copy the table on SQLite and lose its search triggers).
    op.add_column("listings", sa.Column("ships_physical", sa.Boolean(), nullable=False, server_default=sa.false()))
    _shown_trigger((*_SHOWN_BEFORE, "ships_physical"))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("finalize_extension_seconds", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("finalize_extended_at", marketplace.db.base.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("finalize_extended_at")
        batch.drop_column("finalize_extension_seconds")
    _shown_trigger(_SHOWN_BEFORE)
    op.drop_column("listings", "ships_physical")
