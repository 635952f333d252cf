"""search that folds Unicode (FTS5 trigram / pg_trgm) and indexes for every sort and category page

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

- ``listings.search_text`` and ``listings.title_key``: title and description folded by
  ``marketplace.listings.search_text`` (Python, the same on both databases), filled here for the
  rows that exist. ``title_key`` is ``COLLATE "C"`` on PostgreSQL, so "Title A-Z" is code-point
  order there as on SQLite.
- SQLite: ``listings_search``, an FTS5 table with the trigram tokenizer whose content is
  ``listings.search_text``, kept in step by three triggers. The order matters: the columns are
  filled first, then the table is built (``'rebuild'``), and only then the triggers are
  created. An update trigger that deletes postings a row never had corrupts the index.
- PostgreSQL: the ``pg_trgm`` extension (trusted: the database owner may create it) and a GIN
  trigram index on ``search_text``, which serves ``search_text LIKE '%word%'``.
- The catalog-version trigger of 0003 names the columns a card or a browse query uses; the two
  new columns join it (a change of ``search_text`` changes search results).
- Sort indexes ``(status, hidden_at[, category], <sort>, id, vendor_id)`` for each sort with and
  without a category, replacing the two of 0001, and ``listing_images (listing_id, position,
  id)`` for the first image of a card, replacing the one on ``listing_id`` alone.

Downgrading removes all of it (the ``pg_trgm`` extension stays: other objects may use it).
This migration imports the folding function: if it ever changes, a new migration folds every
row again (see docs/search.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marketplace.listings.search_text import search_columns

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BUMP = "UPDATE catalog_version SET version = version + 1 WHERE id = 1"
_SHOWN_TRIGGER = "trg_catalog_listings_update_shown"
# 0003's list of the columns a card or a browse query uses; 0004 adds the two search columns.
_SHOWN_0003 = (
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
_SHOWN_0004 = (*_SHOWN_0003, "search_text", "title_key")

_SORT_INDEXES = {
    "ix_listings_visible_created": ("created_at",),
    "ix_listings_visible_price": ("price_atomic",),
    "ix_listings_visible_title": ("title_key",),
    "ix_listings_visible_category_created": ("category", "created_at"),
    "ix_listings_visible_category_price": ("category", "price_atomic"),
    "ix_listings_visible_category_title": ("category", "title_key"),
}
_OLD_SORT_INDEXES = {
    "ix_listings_visible_created": ("status", "hidden_at", "created_at"),
    "ix_listings_visible_price": ("status", "hidden_at", "price_atomic"),
}
_IMAGE_INDEX = "ix_listing_images_listing_position"
_OLD_IMAGE_INDEX = "ix_listing_images_listing_id"
_TRIGRAM_INDEX = "ix_listings_search_text_trgm"

_FTS_TABLE = "listings_search"
_FTS_TRIGGERS = {
    "trg_listings_search_insert": (
        "AFTER INSERT ON listings BEGIN "
        f"INSERT INTO {_FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text); END"
    ),
    "trg_listings_search_delete": (
        "AFTER DELETE ON listings BEGIN "
        f"INSERT INTO {_FTS_TABLE}({_FTS_TABLE}, rowid, search_text) VALUES ('delete', old.id, old.search_text); END"
    ),
    "trg_listings_search_update": (
        "AFTER UPDATE OF search_text ON listings BEGIN "
        f"INSERT INTO {_FTS_TABLE}({_FTS_TABLE}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
        f"INSERT INTO {_FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text); END"
    ),
}
_BACKFILL_BATCH = 1000


def _postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _drop_trigger(name: str) -> None:
    op.execute(f"DROP TRIGGER IF EXISTS {name} ON listings" if _postgresql() else f"DROP TRIGGER IF EXISTS {name}")


def _shown_trigger(columns: Sequence[str]) -> None:
    """(Re)create 0003's catalog trigger on an UPDATE OF ``columns``."""
    _drop_trigger(_SHOWN_TRIGGER)
    names = ", ".join(columns)
    if _postgresql():
        op.execute(
            f"CREATE TRIGGER {_SHOWN_TRIGGER} AFTER UPDATE OF {names} ON listings "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER {_SHOWN_TRIGGER} AFTER UPDATE OF {names} ON listings FOR EACH ROW BEGIN {_BUMP}; END"
        )


def _backfill() -> None:
    """Fold every existing listing's text in Python and store it (in batches)."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, title, description FROM listings ORDER BY id")).all()
    update = sa.text("UPDATE listings SET search_text = :search_text, title_key = :title_key WHERE id = :id")
    for start in range(0, len(rows), _BACKFILL_BATCH):
        batch = rows[start : start + _BACKFILL_BATCH]
        bind.execute(update, [{"id": row.id, **search_columns(row.title, row.description)} for row in batch])


def upgrade() -> None:
    postgresql = _postgresql()
    if postgresql:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.add_column("listings", sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    title_key_type = sa.Text(collation="C") if postgresql else sa.Text()
    op.add_column("listings", sa.Column("title_key", title_key_type, nullable=False, server_default=""))
    _backfill()
    if postgresql:
        op.execute(f"CREATE INDEX {_TRIGRAM_INDEX} ON listings USING gin (search_text gin_trgm_ops)")
    else:
        # Only now, with every row's search_text in place: build the index, then keep it in step.
        op.execute(
            f"CREATE VIRTUAL TABLE {_FTS_TABLE} USING fts5(search_text, content='listings', content_rowid='id', "
            "tokenize='trigram case_sensitive 1', detail='full')"
        )
        op.execute(f"INSERT INTO {_FTS_TABLE}({_FTS_TABLE}) VALUES ('rebuild')")
        for name, body in _FTS_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    _shown_trigger(_SHOWN_0004)
    for name in _OLD_SORT_INDEXES:
        op.drop_index(name, table_name="listings")
    for name, columns in _SORT_INDEXES.items():
        op.create_index(name, "listings", ["status", "hidden_at", *columns, "id", "vendor_id"])
    op.drop_index(_OLD_IMAGE_INDEX, table_name="listing_images")
    op.create_index(_IMAGE_INDEX, "listing_images", ["listing_id", "position", "id"])
    if postgresql:
        # Every row was just rewritten: fresh statistics let the planner choose between the
        # trigram index (rare words) and the sort indexes (common words) from the start.
        op.execute("ANALYZE listings")


def downgrade() -> None:
    op.drop_index(_IMAGE_INDEX, table_name="listing_images")
    op.create_index(_OLD_IMAGE_INDEX, "listing_images", ["listing_id"])
    for name in _SORT_INDEXES:
        op.drop_index(name, table_name="listings")
    for name, columns in _OLD_SORT_INDEXES.items():
        op.create_index(name, "listings", list(columns))
    _shown_trigger(_SHOWN_0003)
    if _postgresql():
        op.drop_index(_TRIGRAM_INDEX, table_name="listings")
    else:
        for name in _FTS_TRIGGERS:
            _drop_trigger(name)
        op.execute(f"DROP TABLE IF EXISTS {_FTS_TABLE}")
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): nothing refers to these columns any more.
    op.execute("ALTER TABLE listings DROP COLUMN title_key")
    op.execute("ALTER TABLE listings DROP COLUMN search_text")
