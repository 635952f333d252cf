"""Listing tables: listings and their images."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.db.base import Base, UTCDateTime, enum_column, utcnow


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


class Listing(Base):
    __tablename__ = "listings"
    # The browse queries filter on the visibility columns first: one index per sort order, and
    # one that lets COUNT(*) (with the category filter) read the index alone, never the table.
    __table_args__ = (
        Index("ix_listings_visible_created", "status", "hidden_at", "created_at"),
        Index("ix_listings_visible_price", "status", "hidden_at", "price_atomic"),
        Index("ix_listings_visible_vendor_category", "status", "hidden_at", "vendor_id", "category"),
        Index("ix_listings_vendor_id", "vendor_id"),
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
    status: Mapped[ListingStatus] = mapped_column(enum_column(ListingStatus, 16), default=ListingStatus.ACTIVE)
    # Set by an admin; a hidden listing is shown to nobody but its vendor and admins.
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The vendor's last change, set by the services on every edit. No ``onupdate``: it would add
    # updated_at to every UPDATE, a stock move by an order included, and so fire the catalog
    # trigger (migration 0003) on every order.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    vendor: Mapped[User] = relationship(lazy="joined")
    images: Mapped[list[ListingImage]] = relationship(
        back_populates="listing",
        order_by="ListingImage.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class ListingImage(Base):
    """A re-encoded image (metadata stripped) and its thumbnail, stored with the listing.

    Kept in the database, not on disk, so that one transaction and one backup hold a listing
    whole and several web hosts serve the same images.
    """

    __tablename__ = "listing_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
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
