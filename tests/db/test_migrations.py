"""The schema the code expects is the schema the migrations build, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from marketplace.db.engine import Database
from marketplace.db.migrate import current_revision, head_revision, upgrade
from marketplace.db.models import Base


def test_models_and_migrations_agree(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models and migrations differ; write a migration: {differences}"


def test_database_is_at_the_latest_revision(database: Database) -> None:
    assert current_revision(database.engine) == head_revision()


def test_upgrade_twice_changes_nothing(database: Database) -> None:
    tables_before = sorted(inspect(database.engine).get_table_names())
    upgrade(database.engine)
    assert sorted(inspect(database.engine).get_table_names()) == tables_before
    assert current_revision(database.engine) == head_revision()
