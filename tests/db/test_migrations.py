"""The schema the code expects is the schema the migrations build, on both databases."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from marketplace.accounts.models import Role, User
from marketplace.db.engine import Database
from marketplace.db.migrate import alembic_config, current_revision, head_revision, upgrade
from marketplace.db.models import Base
from marketplace.jobs.queue import enqueue, list_jobs
from marketplace.listings.models import Listing, schema_comparison_hooks
from marketplace.listings.queries import browse_listings
from marketplace.logs import request_id_var
from tests.listings.conftest import assert_search_columns_match_the_text


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


def _downgrade(database: Database, revision: str) -> None:
    config = alembic_config(database.engine.url.render_as_string(hide_password=False))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _listing_indexes(database: Database) -> dict[str, list[str]]:
    found = inspect(database.engine).get_indexes("listings") + inspect(database.engine).get_indexes("listing_images")
    return {index["name"] or "": [str(column) for column in index["column_names"]] for index in found}


def test_0004_folds_the_listings_that_exist_and_downgrades_to_0003(
    database: Database, make_user: Callable[..., User]
) -> None:
    vendor = make_user(Role.VENDOR)
    _downgrade(database, "0003")
    assert "search_text" not in {column["name"] for column in inspect(database.engine).get_columns("listings")}
    assert not any(name.startswith("listings_search") for name in inspect(database.engine).get_table_names())
    indexes = _listing_indexes(database)
    assert indexes["ix_listings_visible_created"] == ["status", "hidden_at", "created_at"]
    assert "ix_listing_images_listing_id" in indexes
    assert "ix_listings_search_text_trgm" not in indexes
    with database.engine.begin() as connection:  # a listing written before 0004
        connection.execute(
            text(
                "INSERT INTO listings (vendor_id, title, description, description_format, price_atomic, stock, "
                "category, status, created_at, updated_at) VALUES (:vendor, 'Ägyptische Baumwolle', 'Tücher.', "
                "'plain', 1, 1, 'home', 'active', '2026-11-01 10:00:00', '2026-11-01 10:00:00')"
            ),
            {"vendor": vendor.id},
        )

    upgrade(database.engine)

    assert current_revision(database.engine) == head_revision()
    with database.session() as db:
        assert [card.title for card in browse_listings(db, q="AGYPT tucher", page_size=10).items] == [
            "Ägyptische Baumwolle"
        ]
    assert_search_columns_match_the_text(database)
    assert _listing_indexes(database)["ix_listings_visible_created"] == [
        "status",
        "hidden_at",
        "created_at",
        "id",
        "vendor_id",
    ]


def test_search_objects_the_models_cannot_compare_exist(database: Database) -> None:
    # Alembic compares neither collations nor index methods, nor sees FTS5 tables: checked here.
    with database.engine.connect() as connection:
        if database.dialect == "sqlite":
            sql = connection.execute(text("SELECT sql FROM sqlite_master WHERE name = 'listings_search'")).scalar_one()
            assert "fts5" in sql
            assert "trigram case_sensitive 1" in sql
            triggers = connection.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'trg_listings_search_%'")
            ).scalars()
            assert sorted(triggers) == [
                "trg_listings_search_delete",
                "trg_listings_search_insert",
                "trg_listings_search_update",
            ]
            return
        collation = connection.execute(
            text(
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_name = 'listings' AND column_name = 'title_key'"
            )
        ).scalar_one()
        assert collation == "C"
        definition = connection.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_listings_search_text_trgm'")
        ).scalar_one()
        assert "USING gin (search_text gin_trgm_ops)" in definition


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


def test_0010_adds_the_request_id_of_jobs_and_downgrades_to_0009_keeping_them(database: Database) -> None:
    token = request_id_var.set("req-before-downgrade")
    try:
        with database.session() as db:
            enqueue(db, "escrow.setup", order_id="order-1")
    finally:
        request_id_var.reset(token)

    _downgrade(database, "0009")
    assert "request_id" not in {column["name"] for column in inspect(database.engine).get_columns("jobs")}
    assert "ix_jobs_request_id" not in {index["name"] for index in inspect(database.engine).get_indexes("jobs")}
    upgrade(database.engine)

    assert current_revision(database.engine) == head_revision()
    with database.session() as db:
        # The job is still there; the id it carried went with the column (a downgrade forgets it).
        assert [(job.kind, job.order_id, job.request_id) for job in list_jobs(db)] == [
            ("escrow.setup", "order-1", None)
        ]
    assert "ix_jobs_request_id" in {index["name"] for index in inspect(database.engine).get_indexes("jobs")}
