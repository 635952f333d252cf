"""stock moves leave the catalog version alone unless they cross zero

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

Migration 0002 bumps the catalog version on every UPDATE of a listing. Once orders take stock,
every order would then empty every remembered browse page and, on PostgreSQL, make all order
placements queue on the one ``catalog_version`` row. Cards show only whether a listing is in
stock (the listing itself shows the exact number, read live), so this replaces that trigger by:

- ``trg_catalog_listings_update_shown``: an UPDATE OF any column but ``stock`` (each is shown on
  a card or used by a browse query: filters, sort orders, search; ``updated_at`` and
  ``created_at`` are in the list API's cards). A column added to listings later joins this list
  unless it is as invisible to cards as stock (``tests/listings/test_freshness.py`` checks it).
- ``trg_catalog_listings_stock_zero``: a row whose stock crosses zero (0 → some, some → 0),
  the one stock move a card shows ("Out of stock").

Both fire only when the columns are in the UPDATE's SET list (``UPDATE OF``), so a stock move
(``SET stock = stock - 1``) fires the first never and the second only when it empties or refills.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BUMP = "UPDATE catalog_version SET version = version + 1 WHERE id = 1"
_SHOWN_COLUMNS = (
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
)
_CROSSES_ZERO = "(OLD.stock = 0) <> (NEW.stock = 0)"
_OLD_TRIGGER = "trg_catalog_listings_update"
_SHOWN_TRIGGER = "trg_catalog_listings_update_shown"
_STOCK_TRIGGER = "trg_catalog_listings_stock_zero"


def _postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _drop(name: str) -> None:
    op.execute(f"DROP TRIGGER IF EXISTS {name} ON listings" if _postgresql() else f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    _drop(_OLD_TRIGGER)
    columns = ", ".join(_SHOWN_COLUMNS)
    if _postgresql():
        # bump_catalog_version() comes from 0002. The stock trigger is per row: only a row-level
        # trigger can compare OLD and NEW, and a stock move that matched no row bumps nothing.
        op.execute(
            f"CREATE TRIGGER {_SHOWN_TRIGGER} AFTER UPDATE OF {columns} ON listings "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version()"
        )
        op.execute(
            f"CREATE TRIGGER {_STOCK_TRIGGER} AFTER UPDATE OF stock ON listings "
            f"FOR EACH ROW WHEN ({_CROSSES_ZERO}) EXECUTE FUNCTION bump_catalog_version()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER {_SHOWN_TRIGGER} AFTER UPDATE OF {columns} ON listings FOR EACH ROW BEGIN {_BUMP}; END"
        )
        op.execute(
            f"CREATE TRIGGER {_STOCK_TRIGGER} AFTER UPDATE OF stock ON listings "
            f"FOR EACH ROW WHEN {_CROSSES_ZERO} BEGIN {_BUMP}; END"
        )


def downgrade() -> None:
    _drop(_STOCK_TRIGGER)
    _drop(_SHOWN_TRIGGER)
    if _postgresql():
        op.execute(
            f"CREATE TRIGGER {_OLD_TRIGGER} AFTER UPDATE ON listings "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version()"
        )
    else:
        op.execute(f"CREATE TRIGGER {_OLD_TRIGGER} AFTER UPDATE ON listings FOR EACH ROW BEGIN {_BUMP}; END")
