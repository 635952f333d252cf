"""Read-side queries for browsing: the hot path of the site.

A page of listings costs two statements: one COUNT and one SELECT of plain columns with the
vendor joined and the first image id as a correlated subquery. No ORM entities, no image bytes,
no per-row queries. Both statements are served by the ``(status, hidden_at, ...)`` indexes and
are built once per shape, then run with bound values.

Visibility (shared rule): status "active", not hidden by a moderator, and the vendor's account
active.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, bindparam, func, select
from sqlalchemy.orm import Session

from marketplace.accounts.models import AccountStatus, Role, User
from marketplace.listings.catalog_cache import CatalogCache, catalog_version
from marketplace.listings.models import Listing, ListingImage, ListingStatus
from marketplace.pagination import MAX_PAGE, Page, page_offset

MAX_QUERY_LENGTH = 200
_LIKE_ESCAPE = "\\"


class SortOrder(StrEnum):
    NEWEST = "newest"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    TITLE = "title"


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
    """The search text as data: trimmed, bounded, without NUL (which no stored text contains)."""
    if not q:
        return ""
    return q.replace("\x00", "").strip()[:MAX_QUERY_LENGTH]


def _like_pattern(term: str) -> str:
    """``%term%`` with the LIKE wildcards in ``term`` escaped: the search text is data."""
    escaped = term.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", _LIKE_ESCAPE + "%")
    return "%" + escaped.replace("_", _LIKE_ESCAPE + "_") + "%"


def _contains(column: Any, dialect: str) -> ColumnElement[bool]:
    # SQLite's LIKE already ignores ASCII case (its lower() knows no more than ASCII either), and
    # calling lower() on every row doubles the cost; PostgreSQL has ILIKE.
    pattern = bindparam("pattern", type_=String())
    if dialect == "sqlite":
        return column.like(pattern, escape=_LIKE_ESCAPE)  # type: ignore[no-any-return]
    return column.ilike(pattern, escape=_LIKE_ESCAPE)  # type: ignore[no-any-return]


def _listing_filters(searching: bool, by_category: bool, by_vendor: bool, dialect: str) -> list[ColumnElement[bool]]:
    """Conditions on the listing itself; values are bound at execution: ``pattern``, ``category``, ``vendor_id``."""
    conditions = [Listing.status == ListingStatus.ACTIVE, Listing.hidden_at.is_(None)]
    if searching:
        conditions.append(_contains(Listing.title, dialect) | _contains(Listing.description, dialect))
    if by_category:
        conditions.append(Listing.category == bindparam("category", type_=String()))
    if by_vendor:
        conditions.append(Listing.vendor_id == bindparam("vendor_id", type_=Integer()))
    return conditions


@lru_cache(maxsize=128)
def _browse_statements(
    dialect: str, sort: SortOrder, *, searching: bool, by_category: bool, by_vendor: bool
) -> tuple[Select[Any], Select[Any]]:
    """The COUNT and the page SELECT for one shape of browse query, built once per process.

    Building a statement costs more than running it on the hot path, so each shape is built
    once with bound parameters and reused.
    """
    conditions = _listing_filters(searching, by_category, by_vendor, dialect)
    # COUNT reads only the (status, hidden_at, vendor_id, category) index: one range per active vendor.
    active_vendors = select(User.id).where(User.role == Role.VENDOR, User.status == AccountStatus.ACTIVE)
    count = select(func.count()).select_from(Listing).where(*conditions, Listing.vendor_id.in_(active_vendors))
    rows = _card_columns().where(*conditions, User.status == AccountStatus.ACTIVE).order_by(*_order_by(sort))
    return count, rows


def _order_by(sort: SortOrder) -> Sequence[Any]:
    if sort is SortOrder.PRICE_ASC:
        return (Listing.price_atomic.asc(), Listing.id.asc())
    if sort is SortOrder.PRICE_DESC:
        return (Listing.price_atomic.desc(), Listing.id.desc())
    if sort is SortOrder.TITLE:
        return (func.lower(Listing.title).asc(), Listing.id.asc())
    return (Listing.created_at.desc(), Listing.id.desc())


def _first_image_id() -> Any:
    return (
        select(ListingImage.id)
        .where(ListingImage.listing_id == Listing.id)
        .order_by(ListingImage.position, ListingImage.id)
        .limit(1)
        .correlate(Listing)
        .scalar_subquery()
    )


def _card_columns() -> Select[Any]:
    return select(
        Listing.id,
        Listing.title,
        Listing.price_atomic,
        (Listing.stock > 0).label("in_stock"),
        Listing.category,
        Listing.status,
        # A flag, not the timestamp: one datetime fewer to parse per row.
        Listing.hidden_at.is_not(None).label("hidden"),
        Listing.vendor_id,
        User.username,
        _first_image_id().label("first_image_id"),
        Listing.created_at,
        Listing.updated_at,
    ).join(User, User.id == Listing.vendor_id)


def _card(row: Any) -> ListingCard:
    return ListingCard(
        id=row.id,
        title=row.title,
        price_atomic=row.price_atomic,
        in_stock=bool(row.in_stock),
        category=row.category,
        status=row.status,
        hidden=bool(row.hidden),
        vendor_id=row.vendor_id,
        vendor_username=row.username,
        first_image_id=row.first_image_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
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
) -> Page[ListingCard]:
    """One page of publicly visible listings matching the filters.

    ``page`` beyond the last page gives an empty page (and the true total), never an error.
    With ``cache``, an answer computed at the current catalog version is reused (never a stale one).
    """
    page = max(1, min(page, MAX_PAGE))
    term = clean_search_term(q)
    query = _PageQuery(term, category, sort, page, page_size, vendor_id)
    if cache is None:
        return _query_page(db, query)
    version = catalog_version(db)
    result = cache.get(query, version)
    if result is None:
        result = _query_page(db, query)
        cache.put(query, version, result)
    return result


@dataclass(frozen=True)
class _PageQuery:
    term: str
    category: str | None
    sort: SortOrder
    page: int
    page_size: int
    vendor_id: int | None


def _query_page(db: Session, query: _PageQuery) -> Page[ListingCard]:
    count, rows = _browse_statements(
        db.get_bind().dialect.name,
        query.sort,
        searching=bool(query.term),
        by_category=bool(query.category),
        by_vendor=query.vendor_id is not None,
    )
    params: dict[str, Any] = {}
    if query.term:
        params["pattern"] = _like_pattern(query.term)
    if query.category:
        params["category"] = query.category
    if query.vendor_id is not None:
        params["vendor_id"] = query.vendor_id
    total = int(db.scalar(count, params) or 0)
    offset = page_offset(query.page, query.page_size)
    items: list[ListingCard] = []
    if offset < total:
        items = [_card(row) for row in db.execute(rows.limit(query.page_size).offset(offset), params)]
    return Page(items=items, total=total, page=query.page, page_size=query.page_size)


@dataclass(frozen=True)
class OwnListing:
    """A row of the vendor's own list (/sell): the card and the exact stock (read live, never remembered)."""

    card: ListingCard
    stock: int


def vendor_own_listings(db: Session, vendor_id: int) -> list[OwnListing]:
    """Every listing of a vendor but the deleted ones, newest first (their /sell page)."""
    rows = db.execute(
        _card_columns()
        .add_columns(Listing.stock)
        .where(Listing.vendor_id == vendor_id, Listing.status != ListingStatus.DELETED)
        .order_by(Listing.created_at.desc(), Listing.id.desc())
    )
    return [OwnListing(card=_card(row), stock=row.stock) for row in rows]


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
