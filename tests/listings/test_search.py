"""Search that understands more than ASCII: the same results, in the same order, on SQLite and PostgreSQL.

Each test runs on both databases; every ordered list of ids is compared with a reference
computed here in Python from the same rows by the documented rule (docs/search.md): a listing
matches when every query word (``query_words``) is a substring of its folded title and
description, ordered by the sort then the id. Both databases agreeing with the reference is
what proves they agree with each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from marketplace.accounts.models import Role, User
from marketplace.db.engine import Database
from marketplace.listings.listing_sql import SortOrder
from marketplace.listings.models import Listing
from marketplace.listings.search_text import query_words, stored_search_text, stored_title_key
from tests.support.client import SiteClient

_BASE_TIME = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)

# (title, description, price in piconero, hours after _BASE_TIME). Equal prices, equal times and
# equal folded titles on purpose: the id breaks every tie.
CATALOGUE = [
    ("Ägyptische Baumwolle Tücher", "Feine Tücher aus ägyptischer Baumwolle.", 30, 1),
    ("Crème brûlée Förmchen (6×)", "Porzellan, spülmaschinenfest.", 10, 2),
    ("Straßenschild „Hauptstraße“", "Emailliertes Schild, 40×20 cm.", 20, 3),
    ("İstanbul halısı", "El dokuması yün halı.", 10, 3),
    ("Матрёшка «Москва»", "Деревянная матрёшка, пять кукол.", 50, 4),
    ("東京タワー模型", "東京タワーの金属製模型。", 40, 5),
    ("北京烤鸭礼盒", "正宗北京烤鸭，真空包装。", 40, 6),
    ("한국 전통 차 세트", "녹차와 보리차 선물 세트.", 10, 7),
    ("ガンダム プラモデル", "未開封。", 60, 8),
    ("Café au lait bowl", "Ceramic bowl, large.", 20, 9),
    ("cafe au lait bowl", "The same bowl, second batch.", 20, 9),
    ("CAFE sign", "Enamel sign saying CAFÉ.", 70, 10),
    ("Łódź tram model", "A model of a tram from Łódź.", 15, 11),
    ("Ægir mead horn", "Horn for mead.", 15, 12),
    ("Plain English teapot", "Holds a litre; 100% porcelain.", 25, 13),
    ("¡¿…!?", "Only punctuation in the title.", 5, 14),
]

QUERIES = [
    "",
    "ägypt",
    "AGYPT",
    "creme",
    "strasse",
    "Straße",
    "İSTANBUL",
    "матрешка",
    "МАТРЁШКА",
    "東京",
    "烤鸭",
    "タワー",
    "한국",
    "cafe",
    "CAFÉ",
    "lodz",
    "aegir",
    "tram mo",
    "a",
    "e",
    "ca",
    "ß",
    "bowl lait",
    "%",
    "moskau",
    "東京烤鸭",
    "カンタム",
]


@dataclass(frozen=True)
class Row:
    id: int
    title: str
    description: str
    price_atomic: int
    created_at: datetime


@pytest.fixture
def catalogue(make_user: Callable[..., User], make_listing: Callable[..., Listing]) -> list[Row]:
    vendor = make_user(Role.VENDOR)
    rows = []
    for title, description, price, hours in CATALOGUE:
        created = _BASE_TIME + timedelta(hours=hours)
        listing = make_listing(
            vendor,
            title=title,
            description=description,
            price_atomic=price * 10**10,
            category="other",
            created_at=created,
            updated_at=created,
        )
        rows.append(Row(listing.id, title, description, listing.price_atomic, created))
    return rows


def reference(rows: list[Row], query: str, sort: SortOrder) -> list[int]:
    """The rule, in Python: every query word a substring of the folded text; sort, then id."""
    words = query_words(query)
    if query.strip() and not words:
        return []
    hits = [row for row in rows if all(word in stored_search_text(row.title, row.description) for word in words)]
    keys: dict[SortOrder, Callable[[Row], Any]] = {
        SortOrder.NEWEST: lambda row: (-row.created_at.timestamp(), -row.id),
        SortOrder.PRICE_ASC: lambda row: (row.price_atomic, row.id),
        SortOrder.PRICE_DESC: lambda row: (-row.price_atomic, -row.id),
        SortOrder.TITLE: lambda row: (stored_title_key(row.title), row.id),
    }
    return [row.id for row in sorted(hits, key=keys[sort])]


def _found(client: SiteClient, query: str, sort: SortOrder = SortOrder.NEWEST, **params: Any) -> list[int]:
    response = client.get("/api/v1/listings", params={"q": query, "sort": sort.value, "page_size": 100, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    ids = [item["id"] for item in body["items"]]
    assert body["total"] == len(ids)
    return ids


def _titles(client: SiteClient, query: str) -> set[str]:
    response = client.get("/api/v1/listings", params={"q": query, "page_size": 100})
    return {item["title"] for item in response.json()["items"]}


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("ägypt", {"Ägyptische Baumwolle Tücher"}),
        ("AGYPT", {"Ägyptische Baumwolle Tücher"}),
        ("Ägyptische baumwolle", {"Ägyptische Baumwolle Tücher"}),
        ("creme", {"Crème brûlée Förmchen (6×)"}),
        ("BRÛLÉE", {"Crème brûlée Förmchen (6×)"}),
        ("strasse", {"Straßenschild „Hauptstraße“"}),
        ("hauptstraße", {"Straßenschild „Hauptstraße“"}),
        ("istanbul", {"İstanbul halısı"}),
        ("матрешка", {"Матрёшка «Москва»"}),
        ("МОСКВА", {"Матрёшка «Москва»"}),
        ("東京", {"東京タワー模型"}),
        ("タワー", {"東京タワー模型"}),
        ("烤鸭", {"北京烤鸭礼盒"}),
        ("한국", {"한국 전통 차 세트"}),
        ("ガンダム", {"ガンダム プラモデル"}),
        ("cafe", {"Café au lait bowl", "cafe au lait bowl", "CAFE sign"}),
        ("lodz", {"Łódź tram model"}),
        ("aegir", {"Ægir mead horn"}),
        ("100%", {"Plain English teapot"}),
        # Misses: a word missing, a word that is not a substring, a different kana.
        ("ägypt teapot", set()),
        ("moskau", set()),
        ("東京烤鸭", set()),
        ("カンタム", set()),
        ("zzz", set()),
    ],
)
def test_search_finds_accented_cyrillic_and_cjk_titles(
    catalogue: list[Row], client: SiteClient, query: str, titles: set[str]
) -> None:
    assert _titles(client, query) == titles


@pytest.mark.parametrize("sort", list(SortOrder))
def test_every_query_gives_the_reference_ids_in_the_reference_order(
    catalogue: list[Row], client: SiteClient, sort: SortOrder
) -> None:
    for query in QUERIES:
        assert _found(client, query, sort) == reference(catalogue, query, sort), query


def test_pages_of_a_search_follow_each_other_without_gaps_or_repeats(catalogue: list[Row], client: SiteClient) -> None:
    for sort in SortOrder:
        expected = reference(catalogue, "a", sort)
        pages = [
            client.get("/api/v1/listings", params={"q": "a", "sort": sort.value, "page": n, "page_size": 3}).json()
            for n in range(1, 8)
        ]
        assert [item["id"] for page in pages for item in page["items"]] == expected, sort
        assert {page["total"] for page in pages} == {len(expected)}


def test_words_of_one_or_two_characters_match_as_substrings_too(catalogue: list[Row], client: SiteClient) -> None:
    # Too short for a trigram index, so matched by a scan: the same rule, the same results.
    for query in ("東京", "烤鸭", "ca", "a", "ß", "6"):
        assert _found(client, query) == reference(catalogue, query, SortOrder.NEWEST), query
    assert _titles(client, "ß") == {"Straßenschild „Hauptstraße“"}  # ß is "ss"
    # Next to a longer word, a short word narrows that word's matches.
    assert _titles(client, "tram mo") == {"Łódź tram model"}


def test_a_query_without_any_word_finds_nothing(catalogue: list[Row], client: SiteClient) -> None:
    for query in ("%", "¡¿…!?", "_", "«»", "-- ; --"):
        assert _found(client, query) == [], query
        page = client.get("/", params={"q": query})
        assert page.status_code == 200
        assert "No listings match" in page.text
    # A blank query is no search: everything visible.
    assert len(_found(client, "   ")) == len(catalogue)


def test_the_browse_page_searches_by_the_same_rule(catalogue: list[Row], client: SiteClient) -> None:
    page = client.get("/", params={"q": "AGYPT", "sort": "title"})
    assert page.status_code == 200
    assert "Ägyptische Baumwolle Tücher" in page.text
    assert "1 listing" in page.text
    cafe = client.get("/", params={"q": "café", "sort": "title"}).text
    assert "3 listings" in cafe
    expected = reference(catalogue, "cafe", SortOrder.TITLE)
    positions = [cafe.index(f'<h2><a href="/listings/{listing_id}">') for listing_id in expected]
    assert positions == sorted(positions)


def test_a_query_is_used_and_shown_as_cleaned(catalogue: list[Row], client: SiteClient) -> None:
    # Control characters separate words like spaces (NUL cannot even be stored in PostgreSQL).
    assert _titles(client, "tram\x00model") == {"Łódź tram model"}
    assert _titles(client, "tram\x07\x7fmodel") == {"Łódź tram model"}
    assert _found(client, "trammodel") == []
    # Only the first 200 characters count, and only they are shown again.
    long_query = "tram " + "x" * 10_000
    assert _found(client, "tram " + "y" * 300) == _found(client, "tram " + "y" * 300 + "z")
    page = client.get("/", params={"q": "tram\x00" + "x" * 10_000})
    assert page.status_code == 200
    assert "\x00" not in page.text
    assert 'value="tram ' + "x" * 195 + '"' in page.text  # 200 characters
    assert "x" * 196 not in page.text
    assert client.get("/api/v1/listings", params={"q": long_query}).status_code == 200
    # An unknown category or sort is not shown again either.
    refused = client.get("/", params={"category": "<b>" + "c" * 5_000, "sort": "s" * 5_000})
    assert refused.status_code == 422
    assert "c" * 100 not in refused.text
    assert "s" * 100 not in refused.text


def test_the_test_database_compares_code_points(database: Database) -> None:
    # The locale is pinned (tests/support/postgres.py): C.UTF-8, whose character classes know
    # Cyrillic and CJK (pg_trgm) and whose order is code-point order, like SQLite's.
    if database.dialect != "postgresql":
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT 'Z' < 'a', 'é' < 'f'")).one() == (1, 0)
        return
    with database.engine.connect() as connection:
        collate, ctype = connection.execute(
            text("SELECT datcollate, datctype FROM pg_database WHERE datname = current_database()")
        ).one()
        assert (collate, ctype) == ("C.UTF-8", "C.UTF-8")
        assert connection.execute(text("SELECT 'Z' < 'a', 'é' < 'f'")).one() == (True, False)
