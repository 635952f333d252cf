"""Listing services: the rules for writing listings and their images, shared by pages and API.

Only the listing's vendor (an active vendor account) writes it: anyone else signed in gets
``Forbidden``; an unknown or deleted listing is ``NotFound``. Every invalid field raises
``InvalidInput`` naming the field, before anything is changed. Text is stored as given (only the
title is trimmed) and escaped on output. Services never commit: the request's transaction does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import AccountStatus, Role, User
from marketplace.db.base import utcnow
from marketplace.errors import Forbidden, InvalidInput, NotFound
from marketplace.listings.images import ProcessedImage, process_upload
from marketplace.listings.models import CATEGORIES, DescriptionFormat, Listing, ListingImage, ListingStatus
from marketplace.monero.amounts import check_price_atomic
from marketplace.settings import Settings

TITLE_MAX_LENGTH = 120
DESCRIPTION_MAX_LENGTH = 20_000
STOCK_MAX = 1_000_000
# Control characters other than tab and newlines have no place in a listing; NUL cannot even be
# stored in PostgreSQL text.
_FORBIDDEN_TITLE_CHARS = frozenset(chr(code) for code in range(32)) | {"\x7f"}
_FORBIDDEN_DESCRIPTION_CHARS = _FORBIDDEN_TITLE_CHARS - {"\t", "\n", "\r"}


@dataclass(frozen=True)
class Upload:
    """An uploaded file as received: its name (for messages only) and its bytes."""

    filename: str
    content: bytes


def _check_text(value: str, field: str, forbidden: frozenset[str]) -> None:
    if any(char in forbidden for char in value):
        raise InvalidInput(f"The {field} contains control characters; remove them.", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"The {field} is not valid text.", field=field) from exc


def check_title(value: str) -> str:
    """The title trimmed; 1 to 120 characters."""
    title = value.strip()
    if not title:
        raise InvalidInput("Enter a title.", field="title")
    if len(title) > TITLE_MAX_LENGTH:
        raise InvalidInput(
            f"The title is {len(title)} characters long; at most {TITLE_MAX_LENGTH} are allowed.", field="title"
        )
    _check_text(title, "title", _FORBIDDEN_TITLE_CHARS)
    return title


def check_description(value: str) -> str:
    """The description as given; 1 to 20,000 characters, not only blanks."""
    if not value.strip():
        raise InvalidInput("Enter a description.", field="description")
    if len(value) > DESCRIPTION_MAX_LENGTH:
        raise InvalidInput(
            f"The description is {len(value):,} characters long; at most {DESCRIPTION_MAX_LENGTH:,} are allowed.",
            field="description",
        )
    _check_text(value, "description", _FORBIDDEN_DESCRIPTION_CHARS)
    return value


def check_description_format(value: str) -> str:
    if value not in {item.value for item in DescriptionFormat}:
        raise InvalidInput("The description format is either plain or markdown.", field="description_format")
    return value


def check_stock(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("The stock is a whole number.", field="stock")
    if value < 0 or value > STOCK_MAX:
        raise InvalidInput(f"The stock is a whole number from 0 to {STOCK_MAX:,}.", field="stock")
    return value


def check_category(value: str) -> str:
    if value not in CATEGORIES:
        raise InvalidInput(f"Choose a category: {', '.join(CATEGORIES)}.", field="category")
    return value


def check_price(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("The price is a whole number of piconero.", field="price_atomic")
    return check_price_atomic(value, field="price_atomic")


def require_vendor(actor: User) -> None:
    """Raise ``Forbidden`` unless ``actor`` is an active vendor account."""
    if actor.role != Role.VENDOR.value or actor.status != AccountStatus.ACTIVE.value:
        raise Forbidden("Only vendor accounts can sell; a buyer account cannot create or change listings.")


def owned_listing(db: Session, actor: User, listing_id: int, *, lock: bool = False) -> Listing:
    """The listing ``actor`` may change; raises Forbidden (not a vendor, not theirs) or NotFound."""
    require_vendor(actor)
    statement = select(Listing).where(Listing.id == listing_id)
    if lock:
        statement = statement.with_for_update(of=Listing)
    listing = db.scalar(statement)
    if listing is None or listing.status == ListingStatus.DELETED.value:
        raise NotFound("There is no such listing.")
    if listing.vendor_id != actor.id:
        raise Forbidden("This listing belongs to another vendor; only its vendor can change it.")
    return listing


def is_publicly_visible(listing: Listing) -> bool:
    return (
        listing.status == ListingStatus.ACTIVE.value
        and listing.hidden_at is None
        and listing.vendor.status == AccountStatus.ACTIVE.value
    )


def can_see_unlisted(viewer: User | None, vendor_id: int) -> bool:
    """Whether ``viewer`` sees a listing (or its images) that the public does not: its vendor or an admin."""
    if viewer is None or viewer.status != AccountStatus.ACTIVE.value:
        return False
    return viewer.id == vendor_id or viewer.role == Role.ADMIN.value


def listing_for_viewer(db: Session, listing_id: int, viewer: User | None) -> Listing:
    """A listing ``viewer`` may see (visible to all, or theirs, or they are an admin); else NotFound."""
    listing = db.get(Listing, listing_id)
    if listing is None or listing.status == ListingStatus.DELETED.value:
        raise NotFound("There is no such listing.")
    if not is_publicly_visible(listing) and not can_see_unlisted(viewer, listing.vendor_id):
        raise NotFound("There is no such listing.")
    return listing


def _process_all(uploads: Sequence[Upload], settings: Settings) -> list[ProcessedImage]:
    return [process_upload(upload.content, settings, name=upload.filename) for upload in uploads]


def _check_image_count(existing: int, adding: int, settings: Settings) -> None:
    limit = settings.listing_max_images
    if existing + adding > limit:
        room = max(0, limit - existing)
        raise InvalidInput(
            f"A listing can have at most {limit} images; it has {existing}, so you can add {room} more.",
            field="images",
        )


def _attach(db: Session, listing: Listing, processed: Sequence[ProcessedImage]) -> list[ListingImage]:
    position = max((image.position for image in listing.images), default=-1)
    added = []
    for item in processed:
        position += 1
        image = ListingImage(
            listing=listing,
            position=position,
            content_type=item.content_type,
            width=item.width,
            height=item.height,
            sha256=item.sha256,
            data=item.data,
            thumbnail=item.thumbnail,
        )
        db.add(image)
        added.append(image)
    db.flush()
    return added


def create_listing(
    db: Session,
    actor: User,
    *,
    title: str,
    description: str,
    description_format: str = DescriptionFormat.PLAIN.value,
    price_atomic: int,
    stock: int,
    category: str,
    images: Sequence[Upload] = (),
    settings: Settings,
) -> Listing:
    """Create an active listing (and its images) for ``actor``; nothing is saved if any input is bad."""
    require_vendor(actor)
    listing = Listing(
        vendor_id=actor.id,
        title=check_title(title),
        description=check_description(description),
        description_format=check_description_format(description_format),
        price_atomic=check_price(price_atomic),
        stock=check_stock(stock),
        category=check_category(category),
        status=ListingStatus.ACTIVE.value,
    )
    _check_image_count(0, len(images), settings)
    processed = _process_all(images, settings)
    db.add(listing)
    db.flush()
    _attach(db, listing, processed)
    return listing


def update_listing(
    db: Session,
    actor: User,
    listing_id: int,
    *,
    title: str | None = None,
    description: str | None = None,
    description_format: str | None = None,
    price_atomic: int | None = None,
    stock: int | None = None,
    category: str | None = None,
    status: str | None = None,
    images: Sequence[Upload] = (),
    settings: Settings,
) -> Listing:
    """Change the given fields (None leaves one as is) and add ``images``; all or nothing."""
    listing = owned_listing(db, actor, listing_id, lock=bool(images))
    changes: dict[str, object] = {}
    if title is not None:
        changes["title"] = check_title(title)
    if description is not None:
        changes["description"] = check_description(description)
    if description_format is not None:
        changes["description_format"] = check_description_format(description_format)
    if price_atomic is not None:
        changes["price_atomic"] = check_price(price_atomic)
    if stock is not None:
        changes["stock"] = check_stock(stock)
    if category is not None:
        changes["category"] = check_category(category)
    if status is not None:
        if status not in (ListingStatus.ACTIVE.value, ListingStatus.PAUSED.value):
            raise InvalidInput("The status is either active or paused.", field="status")
        changes["status"] = status
    processed: list[ProcessedImage] = []
    if images:
        _check_image_count(len(listing.images), len(images), settings)
        processed = _process_all(images, settings)
    for name, value in changes.items():
        setattr(listing, name, value)
    if changes or processed:
        listing.updated_at = utcnow()
    _attach(db, listing, processed)
    return listing


def set_listing_status(db: Session, actor: User, listing_id: int, status: ListingStatus) -> Listing:
    """Pause (status paused), resume (active) or delete (deleted: gone for everyone) a listing."""
    listing = owned_listing(db, actor, listing_id)
    if listing.status is not status:
        listing.status = status
        listing.updated_at = utcnow()
        db.flush()
    return listing


def add_images(
    db: Session, actor: User, listing_id: int, uploads: Sequence[Upload], settings: Settings
) -> list[ListingImage]:
    """Add images to a listing; if one is refused, none is added."""
    listing = owned_listing(db, actor, listing_id, lock=True)
    _check_image_count(len(listing.images), len(uploads), settings)
    processed = _process_all(uploads, settings)
    added = _attach(db, listing, processed)
    listing.updated_at = utcnow()
    return added


def remove_image(db: Session, actor: User, listing_id: int, image_id: int) -> None:
    """Remove one image of a listing; the others keep their order."""
    listing = owned_listing(db, actor, listing_id)
    image = next((item for item in listing.images if item.id == image_id), None)
    if image is None:
        raise NotFound("This listing has no such image.")
    listing.images.remove(image)
    listing.updated_at = utcnow()
    db.flush()
