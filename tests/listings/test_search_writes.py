"""Every way a listing's text is written stores what search looks in, and the search index stays whole.

The folded columns (``search_text``, ``title_key``) are computed in Python, so each writer must
store them: the services (create, edit through the API and the form), the ORM (inserts and
updates; the demo seed's path), SQLAlchemy Core inserts (the bench's seed). Each path is
written through and then searched, and every row's stored columns are compared with a fresh
fold (``tests/cli/test_dev_seed.py`` searches the demo data too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, text

from marketplace.accounts.models import Role, User
from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.listings.models import Listing
from tests.listings.conftest import assert_search_columns_match_the_text
from tests.support.client import SiteClient
from tests.support.factories import Person


def _found(client: SiteClient, query: str) -> list[int]:
    response = client.get("/api/v1/listings", params={"q": query, "page_size": 100})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_the_services_store_the_search_columns_on_create_and_on_every_edit(
    vendor: Person, client: SiteClient, database: Database, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor, title="Crème brûlée dish", description="Porcelain, oven-safe.")["id"]
    assert _found(client, "creme") == [listing]
    path = f"/api/v1/listings/{listing}"

    # The title alone: the description it keeps is folded in again.
    assert vendor.client.patch(path, json={"title": "Матрёшка set"}).status_code == 200
    assert (_found(client, "матрешка"), _found(client, "porcelain"), _found(client, "creme")) == (
        [listing],
        [listing],
        [],
    )

    # The description alone.
    assert vendor.client.patch(path, json={"description": "Painted in Сергиев Посад."}).status_code == 200
    assert (_found(client, "сергиев"), _found(client, "матрешка"), _found(client, "porcelain")) == (
        [listing],
        [listing],
        [],
    )

    # Both at once, then a change of something else (the texts stay searchable).
    both = {"title": "東京タワー模型", "description": "Metal, 30 cm."}
    assert vendor.client.patch(path, json=both).status_code == 200
    assert vendor.client.patch(path, json={"price_atomic": 7 * 10**11}).status_code == 200
    assert (_found(client, "東京"), _found(client, "metal"), _found(client, "сергиев")) == ([listing], [listing], [])

    # The page form sends every field.
    edit = f"/listings/{listing}/edit"
    form = {"title": "Łódź tram model", "description": "Tin.", "description_format": "plain"}
    form |= {"price": "0.7", "stock": "3", "category": "books"}
    assert vendor.client.submit(edit, edit, form).status_code == 303
    assert (_found(client, "lodz"), _found(client, "東京")) == ([listing], [])
    assert_search_columns_match_the_text(database)


def test_orm_and_core_writes_store_the_search_columns(
    client: SiteClient, database: Database, make_user: Callable[..., User], make_listing: Callable[..., Listing]
) -> None:
    vendor = make_user(Role.VENDOR)
    orm = make_listing(vendor, title="Ægir mead horn", description="Horn.").id  # an ORM insert
    assert _found(client, "aegir") == [orm]

    with database.session() as session:  # an ORM update of one attribute
        listing = session.get(Listing, orm)
        assert listing is not None
        listing.description = "Carved in Straßburg."
    assert (_found(client, "strassburg"), _found(client, "aegir")) == ([orm], [orm])

    now = utcnow()
    row = {"vendor_id": vendor.id, "description_format": "plain", "price_atomic": 10**12, "stock": 1}
    row |= {"category": "other", "status": "active", "created_at": now, "updated_at": now}
    with database.engine.begin() as connection:  # Core, many rows at once (as bench/seed.py does)
        connection.execute(
            insert(Listing),
            [
                {**row, "title": "北京烤鸭礼盒", "description": "真空包装。"},
                {**row, "title": "İstanbul halısı", "description": "Yün."},
            ],
        )
    assert len(_found(client, "烤鸭")) == 1
    assert len(_found(client, "istanbul")) == 1
    assert_search_columns_match_the_text(database)


def test_deleting_listings_keeps_the_search_index_sound(
    vendor: Person, client: SiteClient, database: Database, create_listing: Callable[..., dict[str, Any]]
) -> None:
    kept = create_listing(vendor, title="Teapot one")["id"]
    gone = create_listing(vendor, title="Teapot two")["id"]
    with database.engine.begin() as connection:
        connection.execute(text("DELETE FROM listings WHERE id = :id"), {"id": gone})
    assert _found(client, "teapot") == [kept]
    assert_search_columns_match_the_text(database)
