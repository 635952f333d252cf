"""order messages, listing questions, reviews and notifications

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

``order_messages``: an order's messages (buyer, vendor; the arbiter once disputed).
``question_threads`` (one per listing and buyer) and ``question_messages``: questions about a
listing before ordering and the vendor's answers. ``reviews``: one per order (unique order id),
rating 1 to 5, with the vendor's one reply on the same row. ``notifications``: one row per user
concerned by an order's change, a message or a review.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marketplace.db.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=200), nullable=False),
        sa.Column("created_at", marketplace.db.base.UTCDateTime(), nullable=False),
        sa.Column("read_at", marketplace.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_user_read", ["user_id", "read_at", "id"], unique=False)

    op.create_table(
        "question_threads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("created_at", marketplace.db.base.UTCDateTime(), nullable=False),
        sa.Column("last_message_at", marketplace.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["buyer_id"], ["users.id"], name=op.f("fk_question_threads_buyer_id_users")),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_question_threads_listing_id_listings"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["vendor_id"], ["users.id"], name=op.f("fk_question_threads_vendor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_threads")),
        sa.UniqueConstraint("listing_id", "buyer_id", name="uq_question_threads_listing_buyer"),
    )
    with op.batch_alter_table("question_threads", schema=None) as batch_op:
        batch_op.create_index("ix_question_threads_vendor_last", ["vendor_id", "last_message_at"], unique=False)

    op.create_table(
        "order_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column(
            "author_role",
            sa.Enum("buyer", "vendor", "arbiter", name="authorrole", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", marketplace.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_order_messages_author_id_users")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_messages_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_messages")),
    )
    with op.batch_alter_table("order_messages", schema=None) as batch_op:
        batch_op.create_index("ix_order_messages_order_id", ["order_id", "id"], unique=False)

    op.create_table(
        "question_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("from_vendor", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", marketplace.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_question_messages_author_id_users")),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["question_threads.id"],
            name=op.f("fk_question_messages_thread_id_question_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_messages")),
    )
    with op.batch_alter_table("question_messages", schema=None) as batch_op:
        batch_op.create_index("ix_question_messages_thread_id", ["thread_id", "id"], unique=False)

    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", marketplace.db.base.UTCDateTime(), nullable=False),
        sa.Column("reply_text", sa.Text(), nullable=True),
        sa.Column("replied_at", marketplace.db.base.UTCDateTime(), nullable=True),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_reviews_rating_range")),
        sa.ForeignKeyConstraint(["buyer_id"], ["users.id"], name=op.f("fk_reviews_buyer_id_users")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_reviews_order_id_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["vendor_id"], ["users.id"], name=op.f("fk_reviews_vendor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("order_id", name=op.f("uq_reviews_order_id")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index("ix_reviews_vendor_created", ["vendor_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_vendor_created")

    op.drop_table("reviews")
    with op.batch_alter_table("question_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_question_messages_thread_id")

    op.drop_table("question_messages")
    with op.batch_alter_table("order_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_order_messages_order_id")

    op.drop_table("order_messages")
    with op.batch_alter_table("question_threads", schema=None) as batch_op:
        batch_op.drop_index("ix_question_threads_vendor_last")

    op.drop_table("question_threads")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user_read")

    op.drop_table("notifications")
