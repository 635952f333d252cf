"""The SQL of browsing and searching, written out per database (the hot path runs it on the raw driver).

Two statements make a page: a COUNT (remembered per filters and catalog version by the caller)
and a SELECT of card columns. Every shape is served by an index (migration 0004):

- lists: ``(status, hidden_at[, category], <sort>, id, vendor_id)``; the ORDER BY starts with
  ``l.hidden_at`` (always NULL here, so it changes nothing) because PostgreSQL's planner does not
  take ``hidden_at IS NULL`` as an equality and would otherwise sort every visible row instead of
  walking the index; SQLite's plans are the same either way.
- search on SQLite: the FTS5 trigram table ``listings_search`` answers words of 3 characters or
  more with ``MATCH`` (one quoted phrase per word: the words hold only letters, digits and marks,
  so nothing in them is FTS5 syntax). Shorter words, which a trigram index cannot serve, are
  ``listings.search_text LIKE '%w%'`` (never through the FTS5 table, whose ``LIKE`` gives wrong
  answers for 1-2 non-ASCII characters on SQLite 3.40, and never with ``ESCAPE``, which turns
  the index off).
- search on PostgreSQL: ``search_text LIKE '%w%'`` per word, served by the pg_trgm GIN index
  (or a scan, the planner's choice, for 1-2 character words).

Visibility: status active, not hidden by a moderator, the vendor's account active. Its values
are written as literals (they are constants), everything else is a bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from marketplace.accounts.models import AccountStatus, Role
from marketplace.listings.models import SQLITE_SEARCH_TABLE, ListingStatus

# FTS5's trigram tokenizer matches nothing shorter.
TRIGRAM = 3


class SortOrder(StrEnum):
    NEWEST = "newest"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    TITLE = "title"


class PagePlan(StrEnum):
    """How the page SELECT finds its rows (SQLite; PostgreSQL's planner chooses by itself)."""

    WALK = "walk"  # walk the sort index, test each visible row (no search, or common words)
    MATCHES = "matches"  # take the FTS5 matches, sort them, look up the page's rows (rare words)


@dataclass(frozen=True)
class ListingFilter:
    """Which visible listings: all of them, or those of a category, of a vendor, containing every word."""

    words: tuple[str, ...] = ()
    category: str | None = None
    vendor_id: int | None = None

    def without_words(self) -> ListingFilter:
        return ListingFilter(category=self.category, vendor_id=self.vendor_id)

    @property
    def indexed_words(self) -> tuple[str, ...]:
        return tuple(word for word in self.words if len(word) >= TRIGRAM)

    @property
    def short_words(self) -> tuple[str, ...]:
        return tuple(word for word in self.words if len(word) < TRIGRAM)


# The card columns, in the order ``queries`` reads them.
CARD_COLUMNS = (
    "l.id, l.title, l.price_atomic, l.stock > 0, l.category, l.status, l.hidden_at IS NOT NULL, "
    "l.vendor_id, u.username, "
    "(SELECT i.id FROM listing_images i WHERE i.listing_id = l.id ORDER BY i.position, i.id LIMIT 1), "
    "l.created_at, l.updated_at"
)
# A vendor's own list (/sell): every listing but the deleted ones, with the exact stock last.
OWN_LISTINGS_SQL = (
    f"SELECT {CARD_COLUMNS}, l.stock FROM listings l JOIN users u ON u.id = l.vendor_id "
    "WHERE l.vendor_id = :vendor_id AND l.status <> :deleted ORDER BY l.created_at DESC, l.id DESC"
)
_ACTIVE = AccountStatus.ACTIVE.value
_VISIBLE = f"l.status = '{ListingStatus.ACTIVE.value}' AND l.hidden_at IS NULL"
_ACTIVE_VENDOR = f"u.status = '{_ACTIVE}'"
# The COUNT reads only the (status, hidden_at, vendor_id, category) index: one range per active vendor.
_ACTIVE_VENDORS = (
    f"l.vendor_id IN (SELECT v.id FROM users v WHERE v.role = '{Role.VENDOR.value}' AND v.status = '{_ACTIVE}')"
)
_ORDER = {
    SortOrder.NEWEST: "l.hidden_at DESC, l.created_at DESC, l.id DESC",
    SortOrder.PRICE_ASC: "l.hidden_at, l.price_atomic, l.id",
    SortOrder.PRICE_DESC: "l.hidden_at DESC, l.price_atomic DESC, l.id DESC",
    SortOrder.TITLE: "l.hidden_at, l.title_key, l.id",
}
_FTS = SQLITE_SEARCH_TABLE
_FTS_JOIN = f"{_FTS} CROSS JOIN listings l ON l.id = {_FTS}.rowid"  # CROSS JOIN: SQLite starts from the matches


def match_expression(words: tuple[str, ...]) -> str:
    """An FTS5 query requiring every word as a substring: ``"w1" "w2"``."""
    return " ".join(f'"{word}"' for word in words)


def like_pattern(word: str) -> str:
    """``%word%``: nothing to escape, since words hold only letters, digits and marks (no %, _ or \\)."""
    return f"%{word}%"


@dataclass(frozen=True)
class Statement:
    """SQL in the driver's parameter style (``?`` for sqlite3, ``%s`` for psycopg) and its values, in order."""

    sql: str
    params: list[Any]


class _Builder:
    """Conditions and their parameters, in the order they appear in the SQL."""

    def __init__(self, placeholder: str) -> None:
        self.placeholder = placeholder
        self.conditions: list[str] = []
        self.params: list[Any] = []

    def add(self, condition: str, value: Any) -> None:
        self.conditions.append(condition.replace("?", self.placeholder))
        self.params.append(value)

    def where(self, *fixed: str) -> str:
        return " AND ".join([*fixed, *self.conditions])


def _placeholder(dialect: str) -> str:
    return "?" if dialect == "sqlite" else "%s"


def _filtered(dialect: str, listing_filter: ListingFilter, like_words: tuple[str, ...]) -> _Builder:
    builder = _Builder(_placeholder(dialect))
    if listing_filter.category is not None:
        builder.add("l.category = ?", listing_filter.category)
    if listing_filter.vendor_id is not None:
        builder.add("l.vendor_id = ?", listing_filter.vendor_id)
    for word in like_words:
        builder.add("l.search_text LIKE ?", like_pattern(word))
    return builder


def _uses_fts(dialect: str, listing_filter: ListingFilter) -> bool:
    return dialect == "sqlite" and bool(listing_filter.indexed_words)


def count_statement(dialect: str, listing_filter: ListingFilter) -> Statement:
    """How many visible listings pass ``listing_filter``."""
    if not _uses_fts(dialect, listing_filter):
        builder = _filtered(dialect, listing_filter, listing_filter.words)
        where = builder.where(_VISIBLE, _ACTIVE_VENDORS)
        return Statement(f"SELECT count(*) FROM listings l WHERE {where}", builder.params)
    builder = _filtered(dialect, listing_filter, listing_filter.short_words)
    where = builder.where(f"{_FTS} MATCH ?", _VISIBLE, _ACTIVE_VENDORS)
    params = [match_expression(listing_filter.indexed_words), *builder.params]
    return Statement(f"SELECT count(*) FROM {_FTS_JOIN} WHERE {where}", params)


def page_statement(
    dialect: str, listing_filter: ListingFilter, sort: SortOrder, *, limit: int, offset: int, plan: PagePlan
) -> Statement:
    """The card columns of one page of visible listings passing ``listing_filter``, in ``sort`` order."""
    order = _ORDER[sort]
    mark = _placeholder(dialect)
    if plan is PagePlan.WALK or not _uses_fts(dialect, listing_filter):
        builder = _filtered(dialect, listing_filter, listing_filter.words)
        where = builder.where(_VISIBLE, _ACTIVE_VENDOR)
        sql = (
            f"SELECT {CARD_COLUMNS} FROM listings l JOIN users u ON u.id = l.vendor_id "
            f"WHERE {where} ORDER BY {order} LIMIT {mark} OFFSET {mark}"
        )
        return Statement(sql, [*builder.params, limit, offset])
    # Few matches: sort only their ids, then read the page's rows (late row lookup).
    builder = _filtered(dialect, listing_filter, listing_filter.short_words)
    where = builder.where(f"{_FTS} MATCH ?", _VISIBLE, _ACTIVE_VENDOR)
    sql = (
        f"SELECT {CARD_COLUMNS} FROM (SELECT l.id AS page_id FROM {_FTS_JOIN} JOIN users u ON u.id = l.vendor_id "
        f"WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?) p "
        f"JOIN listings l ON l.id = p.page_id JOIN users u ON u.id = l.vendor_id ORDER BY {order}"
    )
    return Statement(sql, [match_expression(listing_filter.indexed_words), *builder.params, limit, offset])


def choose_plan(dialect: str, listing_filter: ListingFilter, matches: int, candidates: int) -> PagePlan:
    """Walk the sort index unless the words are rare (fewer than a quarter of the listings they filter).

    Walking reads about (offset + limit) / share rows when the matches are spread over the sort
    order; starting from the matches costs in proportion to their number. A quarter bounds the
    walk to ~4× the rows the other plan would sort. ``candidates``: the count without the words.
    """
    if not _uses_fts(dialect, listing_filter) or matches * 4 >= candidates:
        return PagePlan.WALK
    return PagePlan.MATCHES
