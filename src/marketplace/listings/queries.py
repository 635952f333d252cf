"""Read-side queries for browsing and searching: the hot path of the site.

A page of listings costs at most two statements (``listing_sql``): a COUNT, remembered per
filters and catalog version (``counts``) and so shared by every sort, page and page size, and a
SELECT of plain columns with the vendor joined and the first image id as a correlated subquery;
the catalog version is read before and after them, so that the total and the page agree.
No ORM entities, no image bytes, no per-row queries: the statements run on the driver's own
cursor (on the request's connection), and rows become cards (pages) or JSON data (the API)
directly.

Search (``docs/search.md``): a listing matches when every word of the query (``query_words``)
is a substring of its folded title and description. A query with text but no words (only
punctuation) matches nothing; a blank query is no search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import processors
from sqlalchemy.orm import Session

from marketplace.accounts.models import AccountStatus, User
from marketplace.listings.catalog_cache import VERSION_SQL, CatalogCache, catalog_version
from marketplace.listings.listing_sql import (
    OWN_LISTINGS_SQL,
    ListingFilter,
    PagePlan,
    SortOrder,
    choose_plan,
    count_statement,
    page_statement,
)
from marketplace.listings.models import Listing, ListingImage, ListingStatus
from marketplace.listings.search_text import query_words
from marketplace.pagination import MAX_PAGE, Page, page_offset
from marketplace.text import clean_line

MAX_QUERY_LENGTH = 200

SORT_LABELS: dict[str, str] = {
    SortOrder.NEWEST: "Newest first",
    SortOrder.PRICE_ASC: "Price: low to high",
    SortOrder.PRICE_DESC: "Price: high to low",
    SortOrder.TITLE: "Title A–Z",
}


@dataclass(frozen=True)
class ListingCard:
    """What a listing card (browse page, vendor page, API list) shows; no description, no bytes.

    Availability only (``in_stock``), never the exact stock: cards are remembered per catalog
    version, and the version moves only when stock crosses zero (migration 0003), so an order
    that takes one of five units leaves every remembered page exact.
    """

    id: int
    title: str
    price_atomic: int
    in_stock: bool
    category: str
    status: str
    hidden: bool
    vendor_id: int
    vendor_username: str
    first_image_id: int | None
    created_at: datetime
    updated_at: datetime


def clean_search_term(q: str | None) -> str:
    """The search text as data: one line of valid text (``text.clean_line``: what a one-line field
    would refuse, NUL and control characters included, becomes a space; NFC), trimmed, at most
    ``MAX_QUERY_LENGTH`` characters.

    Every place that shows, remembers or runs a query uses this form of it.
    """
    if not q:
        return ""
    return clean_line(q).strip()[:MAX_QUERY_LENGTH].rstrip()


@dataclass(frozen=True)
class BrowseQuery:
    """One page of one list: what ``browse_listings`` and the list API compute (hashable: a cache key)."""

    listing_filter: ListingFilter
    sort: SortOrder
    page: int
    page_size: int
    # The query had text but no word in it (only punctuation): nothing matches.
    matches_nothing: bool = False

    @classmethod
    def of(
        cls,
        *,
        q: str | None,
        category: str | None,
        sort: SortOrder,
        page: int,
        page_size: int,
        vendor_id: int | None = None,
    ) -> BrowseQuery:
        term = clean_search_term(q)
        words = query_words(term) if term else ()
        listing_filter = ListingFilter(words=words, category=category or None, vendor_id=vendor_id)
        page = max(1, min(page, MAX_PAGE))
        return cls(listing_filter, sort, page, page_size, matches_nothing=bool(term) and not words)


Counts = CatalogCache[int]


# How many times a page is read again when a write moved the catalog while it was being read.
CONSISTENT_READ_ATTEMPTS = 5


def page_rows(
    cursor: Any, dialect: str, query: BrowseQuery, *, counts: Counts | None = None
) -> tuple[int, list[Sequence[Any]]]:
    """The total and the rows (``listing_sql.CARD_COLUMNS``) of one page, on a DB-API ``cursor``.

    The total and the rows describe one state of the catalog, as if read in one snapshot: each
    statement sees what was committed when it started, so the catalog version is read on the
    cursor before and after them, and they are read again while a write moved it in between (at
    most ``CONSISTENT_READ_ATTEMPTS`` times; a catalog that keeps moving for longer gets the last
    reading, whose total may then differ from its rows by the writes in flight). Every change a
    card or a total can show bumps the version in its own transaction (migrations 0002-0004).
    With ``counts``, totals are reused and remembered under the version they were read at.
    """
    if query.matches_nothing:
        return 0, []
    for _attempt in range(CONSISTENT_READ_ATTEMPTS):
        reading = _Reading(cursor, dialect, counts, version=_version(cursor, dialect))
        total, rows = reading.page(query)
        if _version(cursor, dialect) == reading.version:
            reading.remember_counts()
            break
    return total, rows


@dataclass
class _Reading:
    """One reading of a page at one catalog version, and the totals it counted."""

    cursor: Any
    dialect: str
    counts: Counts | None
    version: int
    counted: dict[ListingFilter, int] = field(default_factory=dict)

    def page(self, query: BrowseQuery) -> tuple[int, list[Sequence[Any]]]:
        listing_filter = query.listing_filter
        total = self.count(listing_filter)
        offset = page_offset(query.page, query.page_size)
        if offset >= total:
            return total, []
        plan = PagePlan.WALK
        if listing_filter.words:
            candidates = self.count(listing_filter.without_words())
            plan = choose_plan(self.dialect, listing_filter, total, candidates)
        statement = page_statement(
            self.dialect, listing_filter, query.sort, limit=query.page_size, offset=offset, plan=plan
        )
        return total, _fetch_all(self.cursor, self.dialect, statement.sql, statement.params)

    def count(self, listing_filter: ListingFilter) -> int:
        if self.counts is not None:
            remembered = self.counts.get(listing_filter, self.version)
            if remembered is not None:
                return remembered
        statement = count_statement(self.dialect, listing_filter)
        total = self.counted[listing_filter] = int(
            _fetch_all(self.cursor, self.dialect, statement.sql, statement.params)[0][0]
        )
        return total

    def remember_counts(self) -> None:
        """Keep the totals counted, under the version (call once it is known not to have moved)."""
        if self.counts is not None:
            for listing_filter, total in self.counted.items():
                self.counts.put(listing_filter, self.version, total)


def _version(cursor: Any, dialect: str) -> int:
    return int(_fetch_all(cursor, dialect, VERSION_SQL, [])[0][0])


def _fetch_all(cursor: Any, dialect: str, sql: str, params: list[Any]) -> list[Sequence[Any]]:
    if dialect == "postgresql":
        # Never a prepared statement: psycopg prepares one after 5 runs, and PostgreSQL then
        # switches to a generic plan that cannot see the LIKE patterns (up to 3× slower searches).
        cursor.execute(sql, params, prepare=False)
    else:
        cursor.execute(sql, params)
    return list(cursor.fetchall())


def as_utc(value: datetime | str) -> datetime:
    """A timestamp column read by the driver (SQLite: text; PostgreSQL: naive UTC) as an aware datetime."""
    if isinstance(value, str):
        parsed: datetime = processors.str_to_datetime(value)  # how SQLAlchemy itself reads SQLite's text
        return parsed.replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC)


def card(row: Sequence[Any]) -> ListingCard:
    """A ``ListingCard`` from a row of ``listing_sql.CARD_COLUMNS``."""
    (id_, title, price, in_stock, category, status, hidden, vendor_id, username, image_id, created, updated) = row
    return ListingCard(
        id=id_,
        title=title,
        price_atomic=price,
        in_stock=bool(in_stock),
        category=category,
        status=status,
        hidden=bool(hidden),
        vendor_id=vendor_id,
        vendor_username=username,
        first_image_id=image_id,
        created_at=as_utc(created),
        updated_at=as_utc(updated),
    )


def browse_listings(
    db: Session,
    *,
    q: str | None = None,
    category: str | None = None,
    sort: SortOrder = SortOrder.NEWEST,
    page: int = 1,
    page_size: int,
    vendor_id: int | None = None,
    cache: CatalogCache[Page[ListingCard]] | None = None,
    counts: Counts | None = None,
    version: int | None = None,
) -> Page[ListingCard]:
    """One page of publicly visible listings matching the filters.

    ``page`` beyond the last page gives an empty page (and the true total), never an error.
    With ``cache`` (pages) and ``counts`` (totals), answers computed at the current catalog
    version are reused, never older ones; ``version`` is that version if the caller has just
    read it (else it is read here, before anything is computed).
    """
    query = BrowseQuery.of(q=q, category=category, sort=sort, page=page, page_size=page_size, vendor_id=vendor_id)
    if cache is None and counts is None:
        return _page_of_cards(db, query, None)
    if version is None:
        version = catalog_version(db)
    result = cache.get(query, version) if cache is not None else None
    if result is None:
        result = _page_of_cards(db, query, counts)
        if cache is not None:
            cache.put(query, version, result)
    return result


def _page_of_cards(db: Session, query: BrowseQuery, counts: Counts | None) -> Page[ListingCard]:
    connection = db.connection()
    cursor = connection.connection.cursor()
    try:
        total, rows = page_rows(cursor, connection.dialect.name, query, counts=counts)
    finally:
        cursor.close()
    return Page(items=[card(row) for row in rows], total=total, page=query.page, page_size=query.page_size)


@dataclass(frozen=True)
class OwnListing:
    """A row of the vendor's own list (/sell): the card and the exact stock (read live, never remembered)."""

    card: ListingCard
    stock: int


def vendor_own_listings(db: Session, vendor_id: int) -> list[OwnListing]:
    """Every listing of a vendor but the deleted ones, newest first (their /sell page)."""
    rows = db.execute(text(OWN_LISTINGS_SQL), {"vendor_id": vendor_id, "deleted": ListingStatus.DELETED.value})
    return [OwnListing(card=card(row[:-1]), stock=row[-1]) for row in rows]


@dataclass(frozen=True)
class ImageContent:
    """The bytes of an image (or its thumbnail) and what decides who may see them."""

    content: bytes
    content_type: str
    sha256: str
    vendor_id: int
    publicly_visible: bool
    listing_deleted: bool


def image_content(db: Session, image_id: int, *, thumbnail: bool) -> ImageContent | None:
    """One image's bytes with its listing's visibility, in one query; None if there is no such image."""
    column = ListingImage.thumbnail if thumbnail else ListingImage.data
    row = db.execute(
        select(
            column.label("content"),
            ListingImage.content_type,
            ListingImage.sha256,
            Listing.vendor_id,
            Listing.status,
            Listing.hidden_at,
            User.status.label("vendor_status"),
        )
        .join(Listing, Listing.id == ListingImage.listing_id)
        .join(User, User.id == Listing.vendor_id)
        .where(ListingImage.id == image_id)
    ).one_or_none()
    if row is None:
        return None
    visible = row.status is ListingStatus.ACTIVE and row.hidden_at is None and row.vendor_status is AccountStatus.ACTIVE
    return ImageContent(
        content=bytes(row.content or b""),
        content_type=row.content_type,
        sha256=row.sha256,
        vendor_id=row.vendor_id,
        publicly_visible=visible,
        listing_deleted=row.status is ListingStatus.DELETED,
    )
