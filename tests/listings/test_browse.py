"""Browsing and searching: what anyone sees on the home page and from GET /api/v1/listings."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from marketplace.accounts.models import User
from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.listings.models import Listing
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import Person

MARKUP = "<script>alert(1)</script>"
SQL = "'; DROP TABLE listings; --"


def _titles(page_html: str) -> list[str]:
    return re.findall(r'<h2><a href="/listings/\d+">([^<]*)</a></h2>', page_html)


@pytest.mark.parametrize("settings_overrides", [{"listings_page_size": 2}])
def test_home_page_paginates_newest_first(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    for n in range(5):
        create_listing(vendor, title=f"Thing {n}")
    first = client.get("/")
    assert first.status_code == 200
    assert _titles(first.text) == ["Thing 4", "Thing 3"]
    assert "5 listings" in first.text
    assert "Page 1 of 3" in first.text
    assert 'href="/?page=2"' in first.text
    third = client.get("/?page=3")
    assert _titles(third.text) == ["Thing 0"]
    assert 'href="/?page=2" rel="prev"' in third.text
    assert 'rel="next"' not in third.text

    beyond = client.get("/?page=9")
    assert beyond.status_code == 200
    assert _titles(beyond.text) == []
    assert "There are no listings on page 9" in beyond.text
    assert 'href="/">Back to the first page' in beyond.text
    assert client.get("/?page=1000000").status_code == 200


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=abc", "The page is a whole number"),
        ("page=0", "The page is a whole number"),
        ("page=-2", "The page is a whole number"),
        ("page=99999999999999999999999", "The page is a whole number from 1 to 1,000,000."),
        ("sort=cheapest", "Sort by newest, price or title"),
        ("category=weapons", "There is no such category"),
    ],
)
def test_impossible_browse_parameters_get_a_clear_page(client: SiteClient, query: str, message: str) -> None:
    response = client.get(f"/?{query}")
    assert response.status_code == 422
    assert message in response.text
    assert 'href="/">Show all listings' in response.text


def test_sort_and_category_filter(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    create_listing(vendor, title="banana", price_atomic=30 * 10**10, category="home")
    create_listing(vendor, title="Apple", price_atomic=10 * 10**10, category="books")
    create_listing(vendor, title="cherry", price_atomic=20 * 10**10, category="books")
    assert _titles(client.get("/?sort=price_asc").text) == ["Apple", "cherry", "banana"]
    assert _titles(client.get("/?sort=price_desc").text) == ["banana", "cherry", "Apple"]
    assert _titles(client.get("/?sort=title").text) == ["Apple", "banana", "cherry"]
    assert _titles(client.get("/").text) == ["cherry", "Apple", "banana"]
    books = client.get("/?category=books&sort=price_asc")
    assert _titles(books.text) == ["Apple", "cherry"]
    assert '<option value="books" selected>' in books.text
    assert "0.1 XMR" in books.text
    assert "Books" in books.text


def test_search_matches_title_and_description_case_insensitively(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    create_listing(vendor, title="Blue Teapot", description="Porcelain.")
    create_listing(vendor, title="Red cup", description="Goes well with a TEAPOT.")
    create_listing(vendor, title="Green plate", description="Ceramic.")
    assert sorted(_titles(client.get("/?q=teapot").text)) == ["Blue Teapot", "Red cup"]
    assert _titles(client.get("/?q=%20PLATE%20").text) == ["Green plate"]
    assert "No listings match" in client.get("/?q=spoon").text
    api = client.get("/api/v1/listings", params={"q": "TeaPot"}).json()
    assert api["total"] == 2


def test_punctuation_in_search_separates_words_and_is_never_a_wildcard(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    create_listing(vendor, title="100% cotton shirt")
    create_listing(vendor, title="snake_case stickers")
    create_listing(vendor, title="Plain listing", description="nothing special")
    create_listing(vendor, title="Rock 'n' roll -- records")

    def found(term: str) -> list[str]:
        return sorted(item["title"] for item in client.get("/api/v1/listings", params={"q": term}).json()["items"])

    # Words are letters and digits; what is between them only separates them.
    assert found("100%") == ["100% cotton shirt"]
    assert found("snake_case") == ["snake_case stickers"]
    assert found("ROCK'N'ROLL") == ["Rock 'n' roll -- records"]
    # A query of punctuation alone has no word and finds nothing, on every database (as a LIKE
    # wildcard, % or _ would have found every listing).
    for term in ("%", "_", "%%", "'", "--", "\\", "'\"%_\\"):
        assert found(term) == [], term
        page = client.get("/", params={"q": term})
        assert page.status_code == 200
        assert "No listings match" in page.text
    assert found("' OR '1'='1") == []


def test_markup_and_sql_are_stored_as_given_escaped_and_searchable(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor, title=f"{MARKUP} {SQL}", description=f"{SQL}\n{MARKUP}")
    assert listing["title"] == f"{MARKUP} {SQL}"
    assert listing["description"] == f"{SQL}\n{MARKUP}"
    assert "<script>" not in listing["description_html"]

    for page in (f"/listings/{listing['id']}", "/", f"/vendors/{vendor.username}", "/?q=DROP+TABLE"):
        html = client.get(page).text
        assert "<script>" not in html, page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, page
    for page in (f"/listings/{listing['id']}", f"/listings/{listing['id']}/edit", "/sell"):
        html = vendor.client.get(page).text
        assert "<script>" not in html, page
        assert "&#39;; DROP TABLE listings; --" in html, page

    for term in (MARKUP, SQL, "DROP TABLE", "<script>"):
        result = client.get("/api/v1/listings", params={"q": term}).json()
        assert [item["id"] for item in result["items"]] == [listing["id"]], term
        page = client.get("/", params={"q": term})
        assert page.status_code == 200
        assert f'href="/listings/{listing["id"]}"' in page.text
    assert client.get("/api/v1/listings").json()["total"] == 1  # the table is still there


def test_unlisted_listings_are_shown_to_nobody_but_their_vendor(
    *,
    vendor: Person,
    other_vendor: Person,
    buyer: Person,
    client: SiteClient,
    database: Database,
    create_listing: Callable[..., dict[str, Any]],
) -> None:
    visible = create_listing(vendor, title="Visible one")
    paused = create_listing(vendor, title="Paused one")
    deleted = create_listing(vendor, title="Deleted one")
    hidden = create_listing(vendor, title="Hidden one")
    vendor.client.patch(f"/api/v1/listings/{paused['id']}", json={"status": "paused"})
    vendor.client.delete(f"/api/v1/listings/{deleted['id']}")
    with database.session() as session:
        session.execute(update(Listing).where(Listing.id == hidden["id"]).values(hidden_at=utcnow()))

    for viewer in (client, buyer.client, other_vendor.client):
        home = viewer.get("/").text
        assert _titles(home) == ["Visible one"]
        assert viewer.get("/api/v1/listings").json()["total"] == 1
        assert _titles(viewer.get(f"/vendors/{vendor.username}").text) == ["Visible one"]
        for listing in (paused, deleted, hidden):
            assert viewer.get(f"/listings/{listing['id']}").status_code == 404
            assert_api_error(viewer.get(f"/api/v1/listings/{listing['id']}"), 404, "not_found")
        assert viewer.get(f"/listings/{visible['id']}").status_code == 200

    own = vendor.client.get(f"/listings/{hidden['id']}")
    assert own.status_code == 200
    assert "Hidden by a moderator" in own.text
    assert vendor.client.get(f"/api/v1/listings/{hidden['id']}").json()["hidden"] is True
    assert vendor.client.get(f"/api/v1/listings/{paused['id']}").json()["status"] == "paused"
    sell = vendor.client.get("/sell").text
    assert "Hidden one" in sell
    assert "Paused one" in sell


def test_a_suspended_vendors_listings_disappear(
    vendor: Person, client: SiteClient, database: Database, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor, title="From a suspended vendor")
    with database.session() as session:
        session.execute(update(User).where(User.id == vendor.user.id).values(status="suspended"))
    assert client.get("/api/v1/listings").json()["total"] == 0
    assert client.get(f"/listings/{listing['id']}").status_code == 404
    assert client.get(f"/vendors/{vendor.username}").status_code == 404


def test_cards_show_thumbnail_or_placeholder(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    from tests.listings.conftest import image_bytes

    with_image = create_listing(vendor, title="Pictured")
    create_listing(vendor, title="Unpictured")
    image = vendor.client.post(
        f"/api/v1/listings/{with_image['id']}/images", files={"file": ("a.png", image_bytes(fmt="PNG"), "image/png")}
    ).json()
    home = client.get("/").text
    assert f'src="/images/{image["id"]}/thumbnail"' in home
    assert "No image" in home
    items = {item["title"]: item for item in client.get("/api/v1/listings").json()["items"]}
    assert items["Pictured"]["thumbnail_url"] == image["thumbnail_url"]
    assert items["Pictured"]["image_url"] == image["url"]
    assert items["Unpictured"]["thumbnail_url"] is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(term=st.text(max_size=40))
def test_any_search_text_gets_a_list(client: SiteClient, term: str) -> None:
    response = client.get("/api/v1/listings", params={"q": term})
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body["items"], list)
    assert body["total"] == 0
    page = client.get("/", params={"q": term})
    assert page.status_code == 200


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(term=st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12))
def test_a_listing_is_found_by_any_piece_of_its_title(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]], term: str
) -> None:
    title = f"x{term}y".replace("\r", " ").strip()
    response = vendor.client.post(
        "/api/v1/listings",
        json={"title": title, "description": "d", "price_atomic": 1, "stock": 1, "category": "other"},
    )
    if response.status_code == 422:
        assert_api_error(response, 422, "invalid", field="title")  # control characters are refused, by name
        return
    assert response.status_code == 201
    listing_id = response.json()["id"]
    found = client.get("/api/v1/listings", params={"q": title, "page_size": 100}).json()["items"]
    assert listing_id in [item["id"] for item in found]


def test_the_browse_page_shows_the_same_results_to_visitors_and_to_whoever_is_signed_in(
    vendor: Person, buyer: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    create_listing(vendor, title="Shared teapot")
    for _ in range(2):  # the second time, the results part is the remembered one
        anonymous = client.get("/", params={"q": "teapot"}).text
        signed_in = buyer.client.get("/", params={"q": "teapot"}).text
        assert _titles(anonymous) == _titles(signed_in) == ["Shared teapot"]
        assert "Sign in" in anonymous
        assert buyer.username not in anonymous
        assert buyer.username in signed_in
        assert "Sign out" in signed_in
    create_listing(vendor, title="Second teapot")
    assert _titles(client.get("/", params={"q": "teapot"}).text) == ["Second teapot", "Shared teapot"]
    assert _titles(buyer.client.get("/", params={"q": "teapot"}).text) == ["Second teapot", "Shared teapot"]
