"""Listing tables: listings and their images."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, LargeBinary, String, Text, event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, deferred, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.db.base import Base, UTCDateTime, enum_column, utcnow
from marketplace.listings.search_text import search_columns, stored_search_text, stored_title_key


class ListingStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    DELETED = "deleted"


class DescriptionFormat(StrEnum):
    PLAIN = "plain"
    MARKDOWN = "markdown"


CATEGORIES: dict[str, str] = {
    "digital": "Digital goods",
    "books": "Books",
    "electronics": "Electronics",
    "clothing": "Clothing",
    "home": "Home and garden",
    "art": "Art and crafts",
    "services": "Services",
    "other": "Other",
}


# Search (``listings/search_text.py``, migration 0004). PostgreSQL: a trigram index serves
# ``search_text LIKE '%word%'``. SQLite: the FTS5 table ``listings_search`` (trigram tokenizer,
# external content = ``listings.search_text``, kept in step by triggers), which SQLAlchemy cannot
# declare; ``schema_comparison_hooks`` tells Alembic about both.
SEARCH_TRIGRAM_INDEX = "ix_listings_search_text_trgm"
SQLITE_SEARCH_TABLE = "listings_search"


def _visible_sorted(name: str, *columns: str) -> Index:
    # Visibility first (status = 'active' AND hidden_at IS NULL are equalities), then the sort,
    # then id (the tie-break, so ORDER BY <sort>, id comes from the index) and vendor_id (so the
    # join on the vendor is checked in the index: rows skipped by OFFSET are never read).
    return Index(name, "status", "hidden_at", *columns, "id", "vendor_id")


def _from_inserted_row(fold: Callable[..., str], *names: str) -> Callable[[Any], str]:
    """A column default computed from the inserted row's other values (ORM and Core inserts alike)."""

    def default(context: Any) -> str:
        row = context.get_current_parameters()
        return fold(*(row[name] for name in names))

    return default


class Listing(Base):
    __tablename__ = "listings"
    # The browse queries filter on the visibility columns first: one index per sort order, with
    # and without a category, and one that lets COUNT(*) (with the category filter) read the
    # index alone, never the table.
    __table_args__ = (
        _visible_sorted("ix_listings_visible_created", "created_at"),
        _visible_sorted("ix_listings_visible_price", "price_atomic"),
        _visible_sorted("ix_listings_visible_title", "title_key"),
        _visible_sorted("ix_listings_visible_category_created", "category", "created_at"),
        _visible_sorted("ix_listings_visible_category_price", "category", "price_atomic"),
        _visible_sorted("ix_listings_visible_category_title", "category", "title_key"),
        Index("ix_listings_visible_vendor_category", "status", "hidden_at", "vendor_id", "category"),
        Index("ix_listings_vendor_id", "vendor_id"),
        Index(
            SEARCH_TRIGRAM_INDEX,
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    description_format: Mapped[DescriptionFormat] = mapped_column(
        enum_column(DescriptionFormat, 16), default=DescriptionFormat.PLAIN
    )
    # Money is integer piconero (1 XMR = 10**12) everywhere; never a float.
    price_atomic: Mapped[int] = mapped_column(BigInteger)
    # Units for sale now. Orders move it (``listings/stock.py``) without touching ``updated_at``;
    # browse cards show only whether it is above zero (see ``CatalogVersion``).
    stock: Mapped[int] = mapped_column()
    category: Mapped[str] = mapped_column(String(32))
    # The vendor ships physical goods: the buy form asks for shipping details (``orders``).
    ships_physical: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[ListingStatus] = mapped_column(enum_column(ListingStatus, 16), default=ListingStatus.ACTIVE)
    # Set by an admin; a hidden listing is shown to nobody but its vendor and admins.
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The vendor's last change, set by the services on every edit. No ``onupdate``: it would add
    # updated_at to every UPDATE, a stock move by an order included, and so fire the catalog
    # trigger (migration 0003) on every order.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Title and description folded for search, and the title folded for "Title A-Z"
    # (``search_text.search_columns``). An insert computes them from its title and description
    # (these defaults); an update that changes either stores them again (``before_update`` below
    # for the ORM, ``services`` for its UPDATE statements). ``title_key`` sorts by code point on
    # both databases: binary on SQLite, COLLATE "C" on PostgreSQL.
    search_text: Mapped[str] = mapped_column(
        Text, default=_from_inserted_row(stored_search_text, "title", "description"), server_default=""
    )
    title_key: Mapped[str] = mapped_column(
        Text().with_variant(Text(collation="C"), "postgresql"),
        default=_from_inserted_row(stored_title_key, "title"),
        server_default="",
    )

    vendor: Mapped[User] = relationship(lazy="joined")
    images: Mapped[list[ListingImage]] = relationship(
        back_populates="listing",
        order_by="ListingImage.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


@event.listens_for(Listing, "before_update")
def _fold_changed_text(_mapper: Mapper[Listing], _connection: Connection, listing: Listing) -> None:
    """An ORM update of the title or the description stores the search columns again, in the same UPDATE."""
    attributes = inspect(listing).attrs
    if attributes.title.history.has_changes() or attributes.description.history.has_changes():
        for name, value in search_columns(listing.title, listing.description).items():
            setattr(listing, name, value)


@dataclass(frozen=True)
class SchemaComparisonHooks:
    include_name: Callable[..., bool]
    include_object: Callable[..., bool]


def schema_comparison_hooks(dialect: str) -> SchemaComparisonHooks:
    """Alembic's ``include_name`` and ``include_object`` hooks: leave out what the models cannot declare.

    Only two things: the FTS5 table of SQLite and its shadow tables (``listings_search*``, made
    by migration 0004; SQLAlchemy has no virtual tables), never reflected; and, on a database
    other than PostgreSQL, the trigram index, which exists on PostgreSQL only. Everything else,
    that index on PostgreSQL included, is compared.
    """

    def include_name(name: str | None, type_: str, _parent_names: Any) -> bool:
        if type_ != "table" or name is None:
            return True
        return name != SQLITE_SEARCH_TABLE and not name.startswith(SQLITE_SEARCH_TABLE + "_")

    def include_object(_obj: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
        return not (type_ == "index" and name == SEARCH_TRIGRAM_INDEX and dialect != "postgresql")

    return SchemaComparisonHooks(include_name=include_name, include_object=include_object)


class ListingImage(Base):
    """A re-encoded image (metadata stripped) and its thumbnail, stored with the listing.

    Kept in the database, not on disk, so that one transaction and one backup hold a listing
    whole and several web hosts serve the same images.
    """

    __tablename__ = "listing_images"
    # The first image of each card: ORDER BY position, id LIMIT 1 read from the index.
    __table_args__ = (Index("ix_listing_images_listing_position", "listing_id", "position", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    thumbnail: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    listing: Mapped[Listing] = relationship(back_populates="images")


class CatalogVersion(Base):
    """One row whose ``version`` grows with every change that can alter what browsing shows.

    Database triggers bump it in the writing transaction itself, so no code path can forget: on
    any insert or delete of listings, any change of listing images and of an account's status
    (migration 0002), and on an update of a listing that changes what a card or a browse query
    uses — any column but ``stock`` — or that moves ``stock`` across zero (migration 0003).
    A stock move that stays above zero (an order for one of five units) leaves it alone, so
    orders neither empty every remembered page nor queue behind each other on this one row.
    Readers compare it to decide whether a remembered page of results is still exactly what the
    database holds (``listings/catalog_cache.py``).
    """

    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
