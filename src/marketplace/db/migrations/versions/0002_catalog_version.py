"""catalog version, bumped by triggers on every change that alters what browsing shows

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BUMP = "UPDATE catalog_version SET version = version + 1 WHERE id = 1"
# (table, event) pairs whose changes can alter a page of listings. Account status decides
# whether a vendor's listings are visible; no other account column is shown or filtered on.
_EVENTS = [
    ("listings", "INSERT"),
    ("listings", "UPDATE"),
    ("listings", "DELETE"),
    ("listing_images", "INSERT"),
    ("listing_images", "UPDATE"),
    ("listing_images", "DELETE"),
    ("users", "UPDATE OF status"),
]


def _trigger_name(table: str, event: str) -> str:
    return f"trg_catalog_{table}_{event.split(maxsplit=1)[0].lower()}"


def upgrade() -> None:
    op.create_table(
        "catalog_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_version")),
    )
    op.execute("INSERT INTO catalog_version (id, version) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_catalog_version() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
        )
        for table, event in _EVENTS:
            op.execute(
                f"CREATE TRIGGER {_trigger_name(table, event)} AFTER {event} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version()"
            )
    else:
        for table, event in _EVENTS:
            op.execute(
                f"CREATE TRIGGER {_trigger_name(table, event)} AFTER {event} ON {table} FOR EACH ROW BEGIN {_BUMP}; END"
            )


def downgrade() -> None:
    for table, event in _EVENTS:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {_trigger_name(table, event)} ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {_trigger_name(table, event)}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS bump_catalog_version()")
    op.drop_table("catalog_version")
