"""Browsing never shows stale results: any change, by any path, is visible to the next read.

The browse results are remembered per process (``catalog_cache``); these tests warm that memory
first, then change the database behind the application's back (as another worker process or an
operator would) and read again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from marketplace.db.engine import Database
from tests.listings.conftest import Person, image_bytes
from tests.support.client import SiteClient


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
