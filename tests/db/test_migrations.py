"""The schema the code expects is the schema the migrations build, on both databases."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from marketplace.db.engine import Database
from marketplace.db.migrate import alembic_config, current_revision, head_revision, upgrade
from marketplace.db.models import Base
from marketplace.listings.models import Listing, schema_comparison_hooks


def test_models_and_migrations_agree(database: Database) -> None:
    with database.engine.connect() as connection:
        hooks = schema_comparison_hooks(connection.dialect.name)
        opts = {"compare_type": True, "include_name": hooks.include_name, "include_object": hooks.include_object}
        context = MigrationContext.configure(connection, opts=opts)
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models and migrations differ; write a migration: {differences}"


def test_database_is_at_the_latest_revision(database: Database) -> None:
    assert current_revision(database.engine) == head_revision()


def test_upgrade_twice_changes_nothing(database: Database) -> None:
    tables_before = sorted(inspect(database.engine).get_table_names())
    upgrade(database.engine)
    assert sorted(inspect(database.engine).get_table_names()) == tables_before
    assert current_revision(database.engine) == head_revision()


def _stock_move_bumps_the_catalog(database: Database, listing_id: int) -> bool:
    with database.engine.begin() as connection:
        before = connection.execute(text("SELECT version FROM catalog_version WHERE id = 1")).scalar_one()
        connection.execute(text("UPDATE listings SET stock = stock + 1 WHERE id = :id"), {"id": listing_id})
        after = connection.execute(text("SELECT version FROM catalog_version WHERE id = 1")).scalar_one()
    return bool(after > before)


def test_0003_downgrades_to_the_trigger_on_every_update_and_back(
    database: Database, make_listing: Callable[..., Listing]
) -> None:
    listing = make_listing(stock=3)
    assert not _stock_move_bumps_the_catalog(database, listing.id)

    config = alembic_config(database.engine.url.render_as_string(hide_password=False))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    assert _stock_move_bumps_the_catalog(database, listing.id)

    upgrade(database.engine)
    assert current_revision(database.engine) == head_revision()
    assert not _stock_move_bumps_the_catalog(database, listing.id)
