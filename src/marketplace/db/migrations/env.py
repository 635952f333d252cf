"""Alembic environment: runs on the connection handed in by ``marketplace.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from marketplace.db.models import Base
from marketplace.listings.models import schema_comparison_hooks

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as own_connection:
            _run(own_connection)
        return
    _run(connection)


def _run(connection: Connection) -> None:
    hooks = schema_comparison_hooks(connection.dialect.name)
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        # Objects the models cannot declare (SQLite's FTS5 table, PostgreSQL's trigram index).
        include_name=hooks.include_name,
        include_object=hooks.include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
