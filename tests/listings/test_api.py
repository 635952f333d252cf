"""The listings JSON API as a client program sees it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from marketplace.monero.amounts import MAX_PRICE_ATOMIC
from tests.listings.conftest import listing_body
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import Person


def test_vendor_creates_a_listing_and_anyone_reads_it(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    response = vendor.client.post(
        "/api/v1/listings",
        json={
            "title": "  Used paperback  ",
            "description": "Slightly *worn*.",
            "description_format": "markdown",
            "price_atomic": 250_000_000_000,
            "stock": 2,
            "category": "books",
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["title"] == "Used paperback"
    assert created["description"] == "Slightly *worn*."
    assert created["description_html"] == "<p>Slightly <em>worn</em>.</p>\n"
    assert created["price_atomic"] == 250_000_000_000
    assert created["price_xmr"] == "0.25"
    assert created["stock"] == 2
    assert created["category"] == "books"
    assert created["status"] == "active"
    assert created["vendor"] == {"id": vendor.user.id, "username": vendor.username}
    assert created["images"] == []
    assert created["created_at"].startswith("20")
    assert created["updated_at"].startswith("20")

    public = client.get(f"/api/v1/listings/{created['id']}")
    assert public.status_code == 200
    assert public.json() == created

    listed = client.get("/api/v1/listings").json()
    assert listed["total"] == 1
    assert listed["page"] == 1
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    assert listed["items"][0]["price_xmr"] == "0.25"
    assert listed["items"][0]["vendor"]["username"] == vendor.username


def test_creating_needs_a_token_and_a_vendor_account(client: SiteClient, buyer: Person) -> None:
    assert_api_error(client.post("/api/v1/listings", json=listing_body()), 401, "not_authenticated")
    assert_api_error(buyer.client.post("/api/v1/listings", json=listing_body()), 403, "forbidden")
    assert client.get("/api/v1/listings").json()["total"] == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"title": "tab\tin title"}, "title"),
        ({"description": ""}, "description"),
        ({"description": "x" * 20_001}, "description"),
        ({"description": "nul \x00 byte"}, "description"),
        ({"description_format": "html"}, "description_format"),
        ({"price_atomic": 0}, "price_atomic"),
        ({"price_atomic": -1}, "price_atomic"),
        ({"price_atomic": 10**40}, "price_atomic"),
        ({"price_atomic": 1.5}, "price_atomic"),
        ({"price_atomic": 2.0}, "price_atomic"),
        ({"price_atomic": "1000"}, "price_atomic"),
        ({"price_atomic": True}, "price_atomic"),
        ({"price_atomic": None}, "price_atomic"),
        ({"stock": -1}, "stock"),
        ({"stock": 1_000_001}, "stock"),
        ({"stock": 2.5}, "stock"),
        ({"stock": "3"}, "stock"),
        ({"category": "weapons"}, "category"),
        ({"category": ""}, "category"),
        ({"vendor_id": 1}, "vendor_id"),
        ({"status": "paused"}, "status"),
    ],
)
def test_bad_fields_are_refused_by_name_and_nothing_is_created(
    vendor: Person, client: SiteClient, overrides: dict[str, Any], field: str
) -> None:
    response = vendor.client.post("/api/v1/listings", json=listing_body(**overrides))
    assert_api_error(response, 422, "invalid", field=field)
    assert client.get("/api/v1/listings").json()["total"] == 0


def test_missing_fields_are_named(vendor: Person) -> None:
    body = listing_body()
    del body["price_atomic"]
    assert_api_error(vendor.client.post("/api/v1/listings", json=body), 422, "invalid", field="price_atomic")


def test_the_largest_sensible_price_and_stock_are_accepted(
    vendor: Person, create_listing: Callable[..., dict[str, Any]]
) -> None:
    largest = min(MAX_PRICE_ATOMIC, 2**63 - 1)  # the price column is a signed 64-bit integer
    created = create_listing(vendor, price_atomic=largest, stock=1_000_000)
    assert created["price_atomic"] == largest
    assert created["stock"] == 1_000_000
    too_much = vendor.client.post("/api/v1/listings", json=listing_body(price_atomic=largest + 1))
    assert_api_error(too_much, 422, "invalid", field="price_atomic")
    assert create_listing(vendor, price_atomic=1, stock=0)["price_xmr"] == "0.000000000001"


def test_vendor_updates_pauses_resumes_and_deletes_their_listing(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor)
    url = f"/api/v1/listings/{listing['id']}"

    changed = vendor.client.patch(url, json={"title": "New title", "price_atomic": 7, "stock": 0})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["title"], changed.json()["price_atomic"], changed.json()["stock"]) == ("New title", 7, 0)
    assert changed.json()["description"] == listing["description"]
    assert client.get(url).json()["title"] == "New title"

    paused = vendor.client.patch(url, json={"status": "paused"})
    assert paused.json()["status"] == "paused"
    assert_api_error(client.get(url), 404, "not_found")
    assert client.get("/api/v1/listings").json()["total"] == 0
    assert vendor.client.get(url).json()["status"] == "paused"

    assert vendor.client.patch(url, json={"status": "active"}).json()["status"] == "active"
    assert client.get(url).status_code == 200

    deleted = vendor.client.delete(url)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_api_error(client.get(url), 404, "not_found")
    assert_api_error(vendor.client.get(url), 404, "not_found")
    assert_api_error(vendor.client.patch(url, json={"title": "Back"}), 404, "not_found")
    assert_api_error(vendor.client.patch(url, json={"status": "active"}), 404, "not_found")
    assert_api_error(vendor.client.delete(url), 404, "not_found")


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"status": "deleted"}, "status"),
        ({"status": "hidden"}, "status"),
        ({"title": None}, "title"),
        ({"price_atomic": 0}, "price_atomic"),
        ({"price_atomic": 0.5}, "price_atomic"),
        ({"stock": -5}, "stock"),
        ({"category": "nope"}, "category"),
        ({"hidden_at": None}, "hidden_at"),
    ],
)
def test_bad_changes_are_refused_and_change_nothing(
    vendor: Person, create_listing: Callable[..., dict[str, Any]], patch: dict[str, Any], field: str
) -> None:
    listing = create_listing(vendor)
    url = f"/api/v1/listings/{listing['id']}"
    response = vendor.client.patch(url, json={"title": "Should not stick", **patch})
    assert_api_error(response, 422, "invalid", field=field)
    assert vendor.client.get(url).json() == listing


def test_nobody_but_the_vendor_changes_a_listing(
    vendor: Person,
    other_vendor: Person,
    buyer: Person,
    client: SiteClient,
    create_listing: Callable[..., dict[str, Any]],
) -> None:
    listing = create_listing(vendor)
    url = f"/api/v1/listings/{listing['id']}"
    # A buyer cannot sell at all (403); another vendor is told what a listing that does not exist gets.
    for person, status, code in ((other_vendor, 404, "not_found"), (buyer, 403, "forbidden")):
        assert_api_error(person.client.patch(url, json={"title": "Mine now"}), status, code)
        assert_api_error(person.client.delete(url), status, code)
        assert_api_error(person.client.patch(url, json={"status": "paused"}), status, code)
    assert_api_error(client.patch(url, json={"title": "Anonymous"}), 401, "not_authenticated")
    assert_api_error(client.delete(url), 401, "not_authenticated")
    assert client.get(url).json() == listing


def test_unknown_and_impossible_ids(vendor: Person, client: SiteClient) -> None:
    assert_api_error(client.get("/api/v1/listings/999999"), 404, "not_found")
    assert_api_error(vendor.client.patch("/api/v1/listings/999999", json={"title": "x"}), 404, "not_found")
    for impossible in ("abc", "0", "-1", "99999999999999999999999"):
        assert_api_error(client.get(f"/api/v1/listings/{impossible}"), 404, "not_found")


def test_list_paginates_sorts_and_filters(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    prices = [5, 3, 9, 1, 7]
    made = [
        create_listing(vendor, title=f"Item {price}", price_atomic=price, category="art" if price > 4 else "books")
        for price in prices
    ]
    page1 = client.get("/api/v1/listings", params={"page_size": 2}).json()
    page3 = client.get("/api/v1/listings", params={"page_size": 2, "page": 3}).json()
    assert page1["total"] == 5
    assert page1["page_size"] == 2
    assert [item["id"] for item in page1["items"]] == [made[4]["id"], made[3]["id"]]
    assert [item["id"] for item in page3["items"]] == [made[0]["id"]]
    beyond = client.get("/api/v1/listings", params={"page": 50})
    assert beyond.status_code == 200
    assert beyond.json()["items"] == []
    assert beyond.json()["total"] == 5

    def prices_for(**params: Any) -> list[int]:
        return [item["price_atomic"] for item in client.get("/api/v1/listings", params=params).json()["items"]]

    assert prices_for(sort="price_asc") == [1, 3, 5, 7, 9]
    assert prices_for(sort="price_desc") == [9, 7, 5, 3, 1]
    assert prices_for(sort="title") == [1, 3, 5, 7, 9]
    assert prices_for(category="art", sort="price_asc") == [5, 7, 9]

    for params, field in (
        ({"page": "abc"}, "page"),
        ({"page": 0}, "page"),
        ({"page": 10**30}, "page"),
        ({"page_size": "+5"}, "page_size"),
        ({"page_size": 1000}, "page_size"),
        ({"sort": "cheapest"}, "sort"),
        ({"category": "weapons"}, "category"),
    ):
        assert_api_error(client.get("/api/v1/listings", params=params), 422, "invalid", field=field)


def test_list_items_have_the_documented_fields(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    create_listing(vendor)
    schemas = client.get("/api/openapi.json").json()["components"]["schemas"]
    item = client.get("/api/v1/listings").json()["items"][0]
    item_schema = schemas["ListingPageOut"]["properties"]["items"]["items"]["$ref"].rsplit("/", 1)[-1]
    assert set(item) == set(schemas[item_schema]["properties"])
    one = client.get(f"/api/v1/listings/{item['id']}").json()
    assert set(one) == set(schemas["ListingOut"]["properties"])
    assert item["created_at"] == one["created_at"]
    assert item["updated_at"] == one["updated_at"]
