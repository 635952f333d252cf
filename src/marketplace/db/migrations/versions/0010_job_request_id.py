"""jobs keep the request id of the work that enqueued them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

``jobs.request_id`` (null for the jobs there are, and for jobs enqueued outside any request): the
worker logs every line of a job with it, so a web request's id leads to the jobs it caused.
Indexed: ``marketplace jobs list --request-id`` looks jobs up by it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN of a nullable column: no table copy on SQLite, no rewrite on PostgreSQL.
    op.add_column("jobs", sa.Column("request_id", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_jobs_request_id"), "jobs", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_jobs_request_id"), table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("request_id")
