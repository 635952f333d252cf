"""API input and output models for listings.

Inputs are strict (a price given as ``"5"`` or ``5.0`` is refused, not coerced) and forbid extra
fields, so a client cannot set what it should not (vendor, status on create, hidden_at...). Types
are checked here; the business rules (lengths, ranges, categories) are enforced by the services,
which the pages share, and stated here for the OpenAPI document (``enforced``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from marketplace.api_schema import ApiInput, enforced
from marketplace.listings.models import CATEGORIES, Listing, ListingImage
from marketplace.listings.queries import ListingCard, as_utc
from marketplace.listings.rendering import render_description
from marketplace.listings.services import DESCRIPTION_MAX_LENGTH, STOCK_MAX, TITLE_MAX_LENGTH
from marketplace.monero.amounts import MAX_PRICE_ATOMIC, format_xmr
from marketplace.pagination import Page
from marketplace.text import TextKind, json_schema_pattern

DescriptionFormatName = Literal["plain", "markdown"]


# What the services accept (listings/services.py), as JSON schema patterns made by the text policy
# itself (marketplace.text): the title one line, the description running text, each with a
# character that shows (after trimming, as the services check it).
_TITLE_PATTERN = json_schema_pattern(TextKind.LINE)
_DESCRIPTION_PATTERN = json_schema_pattern(TextKind.MULTILINE)
_TITLE_RULES = enforced(pattern=_TITLE_PATTERN, min_length=1, max_length=TITLE_MAX_LENGTH)
_DESCRIPTION_RULES = enforced(pattern=_DESCRIPTION_PATTERN, min_length=1, max_length=DESCRIPTION_MAX_LENGTH)
_PRICE_RULES = enforced(minimum=1, maximum=MAX_PRICE_ATOMIC)
_STOCK_RULES = enforced(minimum=0, maximum=STOCK_MAX)
_CATEGORY_RULES = enforced(choices=list(CATEGORIES))


class ListingCreate(ApiInput):
    model_config = ConfigDict(extra="forbid", strict=True)

    title: str = Field(
        description="1 to 120 characters after trimming, one line, at least one visible; stored in Unicode NFC.",
        json_schema_extra=_TITLE_RULES,
    )
    description: str = Field(
        description="1 to 20,000 characters, plain text or Markdown, at least one visible; stored in Unicode NFC.",
        json_schema_extra=_DESCRIPTION_RULES,
    )
    description_format: DescriptionFormatName = "plain"
    price_atomic: int = Field(
        description="Price in piconero (1 XMR = 10^12), a JSON integer above zero.", json_schema_extra=_PRICE_RULES
    )
    stock: int = Field(description="Units available, 0 to 1,000,000.", json_schema_extra=_STOCK_RULES)
    category: str = Field(description="One of the category keys.", json_schema_extra=_CATEGORY_RULES)
    ships_physical: bool = Field(
        default=False, description="Physical goods are posted: buyers give shipping details when they order."
    )


def _without_null(schema: dict[str, Any]) -> None:
    """Document each property as its type alone: a field may be left out, never sent as null."""
    for rules in schema.get("properties", {}).values():
        kinds = [kind for kind in rules.pop("anyOf", []) if kind.get("type") != "null"]
        if len(kinds) == 1:
            rules.update(kinds[0])
        elif kinds:
            rules["anyOf"] = kinds
        rules.pop("default", None)


class ListingPatch(ApiInput):
    """Only the fields sent are changed; ``null`` is not a value any field accepts (``patch_listing``)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_without_null)

    title: str | None = Field(default=None, json_schema_extra=_TITLE_RULES)
    description: str | None = Field(default=None, json_schema_extra=_DESCRIPTION_RULES)
    description_format: DescriptionFormatName | None = None
    price_atomic: int | None = Field(default=None, json_schema_extra=_PRICE_RULES)
    stock: int | None = Field(default=None, json_schema_extra=_STOCK_RULES)
    category: str | None = Field(default=None, json_schema_extra=_CATEGORY_RULES)
    ships_physical: bool | None = None
    status: Literal["active", "paused"] | None = None


class VendorOut(BaseModel):
    id: int
    username: str


class ImageOut(BaseModel):
    id: int
    url: str
    thumbnail_url: str
    width: int
    height: int


class ListingOut(BaseModel):
    id: int
    title: str
    description: str
    description_format: str
    description_html: str = Field(description="The description as sanitized HTML.")
    price_atomic: int
    price_xmr: str = Field(description="The price in XMR as exact decimal text.")
    stock: int = Field(description="Units available now (read live on every request).")
    category: str
    ships_physical: bool = Field(description="Physical goods are posted: an order gives shipping details.")
    status: str
    hidden: bool = Field(description="Hidden by a moderator (only its vendor and admins see it then).")
    vendor: VendorOut
    images: list[ImageOut]
    created_at: datetime
    updated_at: datetime


class ListingCardOut(BaseModel):
    """A listing in a list: no description, only its first image, and availability instead of the exact stock."""

    id: int
    title: str
    price_atomic: int
    price_xmr: str
    in_stock: bool = Field(description="At least one unit available; the exact stock is on GET /listings/{id}.")
    category: str
    status: str
    vendor: VendorOut
    thumbnail_url: str | None
    image_url: str | None
    created_at: datetime
    updated_at: datetime


class ListingPageOut(BaseModel):
    items: list[ListingCardOut]
    total: int
    page: int
    page_size: int


def image_url(image_id: int) -> str:
    return f"/images/{image_id}"


def thumbnail_url(image_id: int) -> str:
    return f"/images/{image_id}/thumbnail"


def image_out(image: ListingImage) -> ImageOut:
    return ImageOut(
        id=image.id,
        url=image_url(image.id),
        thumbnail_url=thumbnail_url(image.id),
        width=image.width,
        height=image.height,
    )


def listing_out(listing: Listing) -> ListingOut:
    return ListingOut(
        id=listing.id,
        title=listing.title,
        description=listing.description,
        description_format=listing.description_format,
        description_html=str(render_description(listing.description, listing.description_format)),
        price_atomic=listing.price_atomic,
        price_xmr=format_xmr(listing.price_atomic),
        stock=listing.stock,
        category=listing.category,
        ships_physical=listing.ships_physical,
        status=listing.status,
        hidden=listing.hidden_at is not None,
        vendor=VendorOut(id=listing.vendor.id, username=listing.vendor.username),
        images=[image_out(image) for image in listing.images],
        created_at=listing.created_at,
        updated_at=listing.updated_at,
    )


def _timestamp(moment: datetime) -> str:
    """The same text pydantic writes for an aware UTC datetime (``...Z``)."""
    return moment.isoformat().replace("+00:00", "Z")


def summary_json(card: ListingCard) -> dict[str, Any]:
    """A ``ListingCardOut`` as plain JSON data, built directly: the list endpoint is the hot path."""
    first = card.first_image_id
    return {
        "id": card.id,
        "title": card.title,
        "price_atomic": card.price_atomic,
        "price_xmr": format_xmr(card.price_atomic),
        "in_stock": card.in_stock,
        "category": card.category,
        "status": card.status,
        "vendor": {"id": card.vendor_id, "username": card.vendor_username},
        "thumbnail_url": None if first is None else thumbnail_url(first),
        "image_url": None if first is None else image_url(first),
        "created_at": _timestamp(card.created_at),
        "updated_at": _timestamp(card.updated_at),
    }


def page_json(page: Page[ListingCard]) -> dict[str, Any]:
    """A ``ListingPageOut`` as plain JSON data."""
    return {
        "items": [summary_json(card) for card in page.items],
        "total": page.total,
        "page": page.page,
        "page_size": page.page_size,
    }


def _timestamp_column(value: datetime | str) -> str:
    """A timestamp as read by the driver, as ``_timestamp`` writes it.

    SQLite gives SQLAlchemy's text (``YYYY-MM-DD HH:MM:SS.ffffff``), turned into ``…Z`` without
    parsing (pydantic leaves out a zero fraction, so does this); anything else is parsed.
    """
    if isinstance(value, str) and len(value) == 26 and value[10] == " " and value[19] == ".":
        if value.endswith(".000000"):
            return f"{value[:10]}T{value[11:19]}Z"
        return f"{value[:10]}T{value[11:]}Z"
    return _timestamp(as_utc(value))


def row_json(row: Sequence[Any]) -> dict[str, Any]:
    """``summary_json`` of the card in a row of ``listing_sql.CARD_COLUMNS``, without making the card."""
    (id_, title, price, in_stock, category, status, _hidden, vendor_id, username, first, created, updated) = row
    return {
        "id": id_,
        "title": title,
        "price_atomic": price,
        "price_xmr": format_xmr(price),
        "in_stock": bool(in_stock),
        "category": category,
        "status": status,
        "vendor": {"id": vendor_id, "username": username},
        "thumbnail_url": None if first is None else thumbnail_url(first),
        "image_url": None if first is None else image_url(first),
        "created_at": _timestamp_column(created),
        "updated_at": _timestamp_column(updated),
    }
