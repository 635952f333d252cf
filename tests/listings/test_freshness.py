"""Browsing never shows stale results: any change, by any path, is visible to the next read.

The browse results are remembered per process (``catalog_cache``); these tests warm that memory
first, then change the database behind the application's back (as another worker process or an
operator would) and read again.

Stock is the exception by design (``listings/stock.py``, migration 0003): cards show only whether
a listing is in stock, so a stock move that stays above zero keeps every remembered page (it is
still exact), one that crosses zero moves the catalog version, and the listing itself always
shows the exact number. Orders for different listings do not wait for each other on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from marketplace.db.engine import Database
from marketplace.errors import Conflict, MarketplaceError, NotFound
from marketplace.listings.catalog_cache import CatalogCache, catalog_version
from marketplace.listings.listing_sql import SortOrder
from marketplace.listings.models import Listing
from marketplace.listings.queries import BrowseQuery, browse_listings, page_rows
from marketplace.listings.schemas import page_json
from marketplace.listings.search_text import search_columns
from marketplace.listings.stock import release_stock, reserve_stock
from marketplace.settings import Settings
from tests.listings.conftest import image_bytes
from tests.support.client import SiteClient
from tests.support.concurrency import interleave, run_together
from tests.support.factories import Person

TIMEOUT_S = 20.0


def _visible_ids(site: SiteClient) -> list[int]:
    response = site.get("/api/v1/listings")
    assert response.status_code == 200
    return [item["id"] for item in response.json()["items"]]


def _change(database: Database, statement: str, **params: Any) -> None:
    with database.engine.begin() as connection:
        connection.execute(text(statement), params)


def test_changes_made_elsewhere_show_on_the_next_read(
    client: SiteClient, database: Database, vendor: Person, create_listing: Callable[..., dict[str, Any]]
) -> None:
    first = create_listing(vendor)["id"]
    assert _visible_ids(client) == [first]
    assert _visible_ids(client) == [first]  # served from memory now

    second = create_listing(vendor)["id"]
    assert _visible_ids(client) == [second, first]

    _change(database, "UPDATE listings SET title = 'Renamed elsewhere' WHERE id = :id", id=first)
    assert client.get("/api/v1/listings").json()["items"][1]["title"] == "Renamed elsewhere"

    _change(database, "UPDATE listings SET hidden_at = CURRENT_TIMESTAMP WHERE id = :id", id=second)
    assert _visible_ids(client) == [first]

    _change(database, "UPDATE users SET status = 'suspended' WHERE id = :id", id=vendor.user.id)
    assert _visible_ids(client) == []
    browse = client.get("/")
    assert "Renamed elsewhere" not in browse.text

    _change(database, "UPDATE users SET status = 'active' WHERE id = :id", id=vendor.user.id)
    assert _visible_ids(client) == [first]
    assert "Renamed elsewhere" in client.get("/").text

    _change(database, "DELETE FROM listings WHERE id = :id", id=first)
    assert _visible_ids(client) == []


def test_a_new_image_shows_on_the_card_at_once(
    client: SiteClient,
    vendor: Person,
    create_listing: Callable[..., dict[str, Any]],
) -> None:
    listing = create_listing(vendor)["id"]
    assert client.get("/api/v1/listings").json()["items"][0]["thumbnail_url"] is None
    added = vendor.client.post(
        f"/api/v1/listings/{listing}/images", files={"file": ("a.jpg", image_bytes(), "image/jpeg")}
    )
    assert added.status_code == 201
    card = client.get("/api/v1/listings").json()["items"][0]
    assert card["thumbnail_url"] == f"/images/{added.json()['id']}/thumbnail"


def _search_ids(site: SiteClient, query: str) -> list[int]:
    response = site.get("/api/v1/listings", params={"q": query})
    assert response.status_code == 200
    return [item["id"] for item in response.json()["items"]]


def test_search_results_follow_every_change_at_once(
    client: SiteClient, database: Database, vendor: Person, create_listing: Callable[..., dict[str, Any]]
) -> None:
    first = create_listing(vendor, title="Blue teapot")["id"]
    # Fill every memory: the API's answer, the total of the search, the browse page's results.
    assert _search_ids(client, "teapot") == _search_ids(client, "teapot") == [first]
    assert "1 listing" in client.get("/", params={"q": "teapot"}).text

    second = create_listing(vendor, title="Красный TEAPOT")["id"]
    assert _search_ids(client, "teapot") == [second, first]
    assert "2 listings" in client.get("/", params={"q": "teapot"}).text

    # A change made elsewhere stores the folded columns too (docs/search.md), and shows at once.
    renamed = {"title": "Blue kettle", **search_columns("Blue kettle", "A fine thing.")}
    _change(
        database,
        "UPDATE listings SET title = :title, search_text = :search_text, title_key = :title_key WHERE id = :id",
        id=first,
        **renamed,
    )
    assert (_search_ids(client, "teapot"), _search_ids(client, "kettle")) == ([second], [first])
    # The folded column alone (as re-folding every row would change it) moves the results as well.
    _change(database, "UPDATE listings SET search_text = 'renamed' WHERE id = :id", id=second)
    assert _search_ids(client, "teapot") == []
    assert "No listings match" in client.get("/", params={"q": "teapot"}).text

    _change(database, "UPDATE users SET status = 'suspended' WHERE id = :id", id=vendor.user.id)
    assert _search_ids(client, "kettle") == []
    assert "No listings match" in client.get("/", params={"q": "kettle"}).text


# --- stock: orders move it without emptying the catalogue's memory ---------------------------


def _version(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT version FROM catalog_version WHERE id = 1")).scalar_one())


def _reserve(database: Database, listing_id: int, quantity: int) -> None:
    with database.session() as db:
        reserve_stock(db, listing_id, quantity)


def _release(database: Database, listing_id: int, quantity: int) -> None:
    with database.session() as db:
        release_stock(db, listing_id, quantity)


def _fresh_list(database: Database, settings: Settings) -> dict[str, Any]:
    """The first page of the list API computed now from the database, bypassing every memory."""
    with database.session() as db:
        page = browse_listings(db, page_size=settings.listings_page_size)
    return orjson.loads(orjson.dumps(page_json(page)))  # type: ignore[no-any-return]


def _detail_stock(site: SiteClient, listing_id: int) -> str:
    match = re.search(r"<dt>In stock</dt><dd>(.*?)</dd>", site.get(f"/listings/{listing_id}").text)
    assert match, "no stock on the listing page"
    return match.group(1)


def test_a_stock_move_that_stays_above_zero_leaves_the_catalog_alone(
    client: SiteClient,
    database: Database,
    settings: Settings,
    vendor: Person,
    create_listing: Callable[..., dict[str, Any]],
) -> None:
    listing = create_listing(vendor, stock=5)
    remembered = client.get("/api/v1/listings").json()
    assert remembered["items"][0]["in_stock"] is True
    assert "stock" not in remembered["items"][0]  # cards show availability, never the number
    version = _version(database)

    _reserve(database, listing["id"], 2)
    _reserve(database, listing["id"], 1)
    _release(database, listing["id"], 1)

    assert _version(database) == version
    # The remembered answer is still exactly what the database holds ...
    assert client.get("/api/v1/listings").json() == remembered == _fresh_list(database, settings)
    # ... and the listing itself shows the exact stock at once, its vendor's last change untouched.
    detail = client.get(f"/api/v1/listings/{listing['id']}").json()
    assert (detail["stock"], detail["updated_at"]) == (3, listing["updated_at"])
    assert _detail_stock(client, listing["id"]) == "3"


def test_stock_crossing_zero_shows_on_the_cards_at_once(
    client: SiteClient,
    database: Database,
    settings: Settings,
    vendor: Person,
    create_listing: Callable[..., dict[str, Any]],
) -> None:
    listing = create_listing(vendor, title="Last two", stock=2)
    assert client.get("/api/v1/listings").json()["items"][0]["in_stock"] is True
    assert "Out of stock" not in client.get("/").text
    version = _version(database)

    _reserve(database, listing["id"], 2)

    assert _version(database) > version
    assert client.get("/api/v1/listings").json()["items"][0]["in_stock"] is False
    assert client.get("/api/v1/listings").json() == _fresh_list(database, settings)
    assert "Out of stock" in client.get("/").text
    assert "Out of stock" in client.get(f"/vendors/{vendor.username}").text
    assert client.get(f"/api/v1/listings/{listing['id']}").json()["stock"] == 0
    assert "Out of stock" in _detail_stock(client, listing["id"])
    refused = _outcome(lambda: _reserve(database, listing["id"], 1))
    assert isinstance(refused, Conflict)
    assert (refused.state, refused.message) == ("out_of_stock", "Not enough in stock: it is out of stock.")

    emptied = _version(database)
    _release(database, listing["id"], 1)

    assert _version(database) > emptied
    assert client.get("/api/v1/listings").json()["items"][0]["in_stock"] is True
    assert "Out of stock" not in client.get("/").text
    assert _detail_stock(client, listing["id"]) == "1"


def test_every_listing_column_but_stock_moves_the_catalog_version(
    database: Database, vendor: Person, create_listing: Callable[..., dict[str, Any]]
) -> None:
    # A column added to listings later fails here until migration 0003's trigger names it (or it
    # is added below, as invisible to cards as the exact stock is).
    listing = create_listing(vendor, stock=3)["id"]
    for column in Listing.__table__.columns:
        if column.name == "stock":
            continue
        before = _version(database)
        _change(database, f"UPDATE listings SET {column.name} = {column.name} WHERE id = :id", id=listing)
        assert _version(database) > before, column.name
    before = _version(database)
    _change(database, "UPDATE listings SET stock = stock + 1 WHERE id = :id", id=listing)
    assert _version(database) == before


def _outcome(call: Callable[[], None]) -> BaseException | None:
    try:
        call()
    except MarketplaceError as exc:
        return exc
    return None


def test_of_eight_parallel_reservations_against_three_units_three_succeed(
    client: SiteClient, database: Database, vendor: Person, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor, stock=3)["id"]

    outcomes = run_together([partial(_reserve, database, listing, 1)] * 8, timeout_s=TIMEOUT_S)

    assert sum(outcome.ok for outcome in outcomes) == 3, outcomes
    refusals = [outcome.error for outcome in outcomes if not outcome.ok]
    assert all(isinstance(error, Conflict) and error.state == "out_of_stock" for error in refusals), refusals
    assert client.get(f"/api/v1/listings/{listing}").json()["stock"] == 0


@pytest.mark.parametrize(
    ("changes", "state"),
    [({"status": "paused"}, "unavailable"), ({"hidden": True}, "unavailable"), ({"deleted": True}, None)],
)
def test_only_a_listing_for_sale_gives_stock(
    database: Database,
    vendor: Person,
    create_listing: Callable[..., dict[str, Any]],
    changes: dict[str, Any],
    state: str | None,
) -> None:
    listing = create_listing(vendor, stock=3)["id"]
    if "status" in changes:
        vendor.client.patch(f"/api/v1/listings/{listing}", json=changes)
    if "hidden" in changes:
        _change(database, "UPDATE listings SET hidden_at = CURRENT_TIMESTAMP WHERE id = :id", id=listing)
    if "deleted" in changes:
        vendor.client.delete(f"/api/v1/listings/{listing}")

    refused = _outcome(lambda: _reserve(database, listing, 1))

    if state is None:
        assert isinstance(refused, NotFound)
    else:
        assert isinstance(refused, Conflict)
        assert refused.state == state
    with database.session() as session:
        assert session.scalar(text("SELECT stock FROM listings WHERE id = :id"), {"id": listing}) == 3


def _reserving(database: Database, listing_id: int) -> Iterator[str]:
    """Reserve one unit in a session of its own; pause after the UPDATE, before the commit."""
    with database.session() as db:
        reserve_stock(db, listing_id, 1)
        yield "reserved"  # the listing's row is locked (PostgreSQL), the database (SQLite)
    yield "committed"
    return True


def test_orders_for_different_listings_wait_for_each_other_only_on_sqlite(
    client: SiteClient, database: Database, vendor: Person, create_listing: Callable[..., dict[str, Any]]
) -> None:
    first = create_listing(vendor, stock=5)["id"]
    second = create_listing(vendor, stock=5)["id"]

    run = interleave(
        {"a": partial(_reserving, database, first), "b": partial(_reserving, database, second)},
        ["a:reserved", "b:committed", "a:committed"],
        # "Not blocked" must not depend on a busy machine: a step may take up to 2 s before it
        # counts as waiting (under SQLite's 5 s busy timeout, so b still waits for a there).
        block_after_s=2.0,
        timeout_s=TIMEOUT_S,
    )

    assert (run["a"].unwrap(), run["b"].unwrap()) == (True, True)
    if database.dialect == "postgresql":
        # Different rows, and no catalog_version bump (no zero crossing): b committed while a's
        # transaction was still open.
        assert not run["b"].blocked, run
        assert run.seq("b", "reached", "committed") < run.seq("a", "step", "committed"), run
    else:
        # SQLite has one writer at a time, by design: b's UPDATE waited for a's commit.
        assert run["b"].blocked, run
        assert run.seq("b", "reached", "reserved") > run.seq("a", "step", "committed"), run
    assert [client.get(f"/api/v1/listings/{n}").json()["stock"] for n in (first, second)] == [4, 4]


def test_a_second_order_for_the_same_listing_waits_for_the_first(
    client: SiteClient, database: Database, vendor: Person, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor, stock=5)["id"]

    run = interleave(
        {"a": partial(_reserving, database, listing), "b": partial(_reserving, database, listing)},
        ["a:reserved", "b:committed", "a:committed"],
        timeout_s=TIMEOUT_S,
    )

    assert (run["a"].unwrap(), run["b"].unwrap()) == (True, True)
    assert run["b"].blocked, run  # the row's lock (PostgreSQL), the database's (SQLite)
    assert run.seq("b", "reached", "reserved") > run.seq("a", "step", "committed"), run
    assert client.get(f"/api/v1/listings/{listing}").json()["stock"] == 3


class _CommitAfterFirstCount:
    """A DB-API cursor that lets another connection commit ``write`` right after its first COUNT."""

    def __init__(self, cursor: Any, write: Callable[[], object]) -> None:
        self._cursor = cursor
        self._write: Callable[[], object] | None = write

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        result = self._cursor.execute(sql, *args, **kwargs)
        if self._write is not None and sql.startswith("SELECT count(*)"):
            write, self._write = self._write, None
            write()
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


@pytest.mark.parametrize(
    "write",
    [
        (
            "INSERT INTO listings (vendor_id, title, description, description_format, price_atomic, stock, "
            "category, status, created_at, updated_at) SELECT vendor_id, 'Arrived meanwhile', description, "
            "description_format, price_atomic, stock, category, status, created_at, updated_at FROM listings "
            "WHERE id = :id"
        ),
        "UPDATE listings SET status = 'paused' WHERE id = :id",
    ],
    ids=["a listing added", "a listing paused"],
)
def test_a_page_and_its_total_describe_one_state_of_the_catalog(
    database: Database, vendor: Person, create_listing: Callable[..., dict[str, Any]], write: str
) -> None:
    # A write committed between the COUNT and the SELECT of a page (each statement sees what was
    # committed when it started) must not give a total that disagrees with the items, nor leave
    # a total remembered for a state that never was.
    ids = [create_listing(vendor)["id"] for _ in range(3)]
    query = BrowseQuery.of(q=None, category=None, sort=SortOrder.NEWEST, page=1, page_size=50)
    counts: CatalogCache[int] = CatalogCache()
    connection = database.engine.raw_connection()
    try:
        cursor = _CommitAfterFirstCount(connection.cursor(), partial(_change, database, write, id=ids[0]))
        total, rows = page_rows(cursor, database.dialect, query, counts=counts)
    finally:
        connection.close()

    assert total == len(rows), (total, [row[1] for row in rows])
    assert total == (4 if write.startswith("INSERT") else 2)  # the state after the write
    with database.session() as db:
        version = catalog_version(db)
        assert browse_listings(db, page_size=50, counts=counts, version=version).total == total
