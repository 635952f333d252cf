"""Listing services: the rules for writing listings and their images, shared by pages and API.

Only the listing's vendor (an active vendor account) writes it: an account that cannot sell gets
``Forbidden``; another vendor's listing is ``NotFound``, the same answer as for a listing that
does not exist or is deleted (a paused or hidden listing's existence is nobody else's business).
Every invalid field raises ``InvalidInput`` naming the field, before anything is changed. Text
follows the one text policy (``marketplace.text``: the title one line, the description running
text, both visible), is stored in normalisation form C (only the title is trimmed) and escaped
on output. Services never commit: the request's transaction does,
and a refusal rolls it back (pages through ``web.pages.attempt``), so a service may have written
before it refuses.

Every change that depends on the listing's current state is guarded in the database itself
(``marketplace.db.writes``), never by a check in Python followed by a write:

- edits, pause/resume/delete and image removal are one conditional UPDATE (``compare_and_set``)
  whose WHERE names the vendor and "not deleted": a listing deleted meanwhile is never written
  into or brought back; the refusal (``NotFound``, ``Conflict``) is read afterwards;
- adding images counts the images under the listing's write lock (``select_for_update``), taken
  only after the uploads are decoded and re-encoded, so no lock is held while pixels are processed.

``updated_at`` is the time of the vendor's last change, set here on every edit; stock moves made
by orders (``listings/stock.py``) leave it alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

from sqlalchemy import Select, func, select, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from marketplace.accounts.models import AccountStatus, Role, User
from marketplace.db.base import utcnow
from marketplace.db.writes import compare_and_set, end_reads, select_for_update
from marketplace.errors import Conflict, Forbidden, InvalidInput, MarketplaceError, NotFound
from marketplace.listings.images import ProcessedImage, process_upload
from marketplace.listings.models import CATEGORIES, DescriptionFormat, Listing, ListingImage, ListingStatus
from marketplace.listings.search_text import search_columns
from marketplace.monero.amounts import check_price_atomic
from marketplace.settings import Settings
from marketplace.text import TextKind, require_visible, valid_text

TITLE_MAX_LENGTH = 120
DESCRIPTION_MAX_LENGTH = 20_000
STOCK_MAX = 1_000_000


@dataclass(frozen=True)
class Upload:
    """An uploaded file as received: its name (for messages only) and its bytes."""

    filename: str
    content: bytes


def check_title(value: str) -> str:
    """The title as one line of visible text (``TextKind.LINE``), NFC, trimmed; 1 to 120 characters."""
    title = valid_text(value, TextKind.LINE, field="title", label="title").strip()
    if not title:
        raise InvalidInput("Enter a title.", field="title")
    if len(title) > TITLE_MAX_LENGTH:
        raise InvalidInput(
            f"The title is {len(title)} characters long; at most {TITLE_MAX_LENGTH} are allowed.", field="title"
        )
    require_visible(title, TextKind.LINE, field="title", label="title")
    return title


def check_description(value: str) -> str:
    """The description as visible running text (``TextKind.MULTILINE``), NFC; 1 to 20,000 characters."""
    description = valid_text(value, TextKind.MULTILINE, field="description", label="description")
    if not description.strip():
        raise InvalidInput("Enter a description.", field="description")
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise InvalidInput(
            f"The description is {len(description):,} characters long; at most {DESCRIPTION_MAX_LENGTH:,} are allowed.",
            field="description",
        )
    require_visible(description, TextKind.MULTILINE, field="description", label="description")
    return description


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


def check_ships_physical(value: bool) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput("ships_physical is true or false.", field="ships_physical")
    return value


_CHECKS: dict[str, Any] = {
    "title": check_title,
    "description": check_description,
    "description_format": check_description_format,
    "price_atomic": check_price,
    "stock": check_stock,
    "category": check_category,
    "ships_physical": check_ships_physical,
}


@dataclass(frozen=True)
class ListingFields:
    """What a vendor writes about a listing, as the API or the form gave it; None is "not given".

    On a change, a field not given keeps its value; a new listing needs every field but the
    description format (plain by default).
    """

    title: str | None = None
    description: str | None = None
    description_format: str | None = None
    price_atomic: int | None = None
    stock: int | None = None
    category: str | None = None
    ships_physical: bool | None = None

    def checked(self) -> dict[str, Any]:
        """The given fields, validated, by column name; raises ``InvalidInput`` naming the first bad one."""
        return {name: _CHECKS[name](value) for name, value in asdict(self).items() if value is not None}


def require_vendor(actor: User) -> None:
    """Raise ``Forbidden`` unless ``actor`` is an active vendor account."""
    if actor.role is not Role.VENDOR or actor.status is not AccountStatus.ACTIVE:
        raise Forbidden("Only vendor accounts can sell; a buyer account cannot create or change listings.")


def _not_found() -> NotFound:
    return NotFound("There is no such listing.")


def _owned_status(listing: Any, actor: User) -> ListingStatus:
    """The listing's status if ``actor`` may change it; else ``NotFound``.

    ``listing`` is a ``Listing``, a row with ``vendor_id`` and ``status``, or None. Another
    vendor's listing gets the very answer a listing that does not exist gets: whether a paused
    or hidden listing exists is not theirs to learn.
    """
    if listing is None or listing.status is ListingStatus.DELETED or listing.vendor_id != actor.id:
        raise _not_found()
    return ListingStatus(listing.status)


def owned_listing(db: Session, actor: User, listing_id: int) -> Listing:
    """The listing ``actor`` may change, as it is now (no lock: to show it, or to refuse early).

    Raises ``Forbidden`` (not an active vendor) or ``NotFound`` (none, deleted, or not theirs).
    """
    require_vendor(actor)
    listing = db.get(Listing, listing_id)
    _owned_status(listing, actor)
    return cast("Listing", listing)


def _owner_row(db: Session, listing_id: int, *, locked: bool) -> Any:
    # select_for_update is typed for one-column statements; this one reads two.
    statement = cast("Select[Any]", select(Listing.vendor_id, Listing.status).where(Listing.id == listing_id))
    if locked:
        return select_for_update(db, statement).one_or_none()
    return db.execute(statement).one_or_none()


def _check_owned(db: Session, actor: User, listing_id: int, *, locked: bool = False) -> ListingStatus:
    """``owned_listing`` without loading the listing (``locked``: under its write lock); gives its status."""
    return _owned_status(_owner_row(db, listing_id, locked=locked), actor)


def _refusal(db: Session, actor: User, listing_id: int) -> MarketplaceError:
    """Why a guarded write on the listing matched no row, as the database says now."""
    try:
        status = _check_owned(db, actor, listing_id)
    except MarketplaceError as refusal:
        return refusal
    return Conflict("The listing changed while this was being saved; try again.", state=status)


def _guarded_update(db: Session, actor: User, listing_id: int, values: dict[str, Any]) -> None:
    """Write ``values`` (and ``updated_at``) to the listing if it is ``actor``'s and not deleted; else refuse."""
    statement = (
        update(Listing)
        .where(
            Listing.id == listing_id,
            Listing.vendor_id == actor.id,
            Listing.status != ListingStatus.DELETED,
        )
        .values(**values, updated_at=utcnow())
    )
    compare_and_set(db, statement, refused=lambda: _refusal(db, actor, listing_id))


def _text_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` with the search columns when both texts are given; else they are stored after the UPDATE."""
    if "title" in changes and "description" in changes:
        return {**changes, **search_columns(changes["title"], changes["description"])}
    return changes


def _store_search_columns(db: Session, listing_id: int) -> None:
    """Fold the listing's title and description as they are now and store them (after an UPDATE of one).

    The UPDATE just made holds the row (PostgreSQL) or the database (SQLite) until the commit,
    so no other change of the texts can come between this read and this write.
    """
    title, description = db.execute(select(Listing.title, Listing.description).where(Listing.id == listing_id)).one()
    db.execute(
        update(Listing).where(Listing.id == listing_id).values(**search_columns(title, description)),
        execution_options={"synchronize_session": False},
    )


def _reloaded(db: Session, listing_id: int) -> Listing:
    """The listing with its images as the transaction sees them now (after Core writes)."""
    statement = select(Listing).where(Listing.id == listing_id).execution_options(populate_existing=True)
    return db.execute(statement).scalar_one()


def is_publicly_visible(listing: Listing) -> bool:
    return (
        listing.status is ListingStatus.ACTIVE
        and listing.hidden_at is None
        and listing.vendor.status is AccountStatus.ACTIVE
    )


def can_see_unlisted(viewer: User | None, vendor_id: int) -> bool:
    """Whether ``viewer`` sees a listing (or its images) that the public does not: its vendor or an admin."""
    if viewer is None or viewer.status is not AccountStatus.ACTIVE:
        return False
    return viewer.id == vendor_id or viewer.role is Role.ADMIN


def listing_for_viewer(db: Session, listing_id: int, viewer: User | None) -> Listing:
    """A listing ``viewer`` may see (visible to all, or theirs, or they are an admin); else NotFound.

    Read from the database on every call (never remembered), so its exact stock is current.
    """
    listing = db.get(Listing, listing_id)
    if listing is None or listing.status is ListingStatus.DELETED:
        raise _not_found()
    if not is_publicly_visible(listing) and not can_see_unlisted(viewer, listing.vendor_id):
        raise _not_found()
    return listing


# --- images -----------------------------------------------------------------------------------


def _check_image_count(existing: int, adding: int, settings: Settings) -> None:
    limit = settings.listing_max_images
    if existing + adding > limit:
        room = max(0, limit - existing)
        raise InvalidInput(
            f"A listing can have at most {limit} images; it has {existing}, so you can add {room} more.",
            field="images",
        )


def _processed(db: Session, uploads: Sequence[Upload], settings: Settings) -> list[ProcessedImage]:
    """Every upload decoded and re-encoded; more than the limit at once is refused first.

    Call it before writing anything: the reads so far are ended first (``end_reads``), so that no
    connection is held while images decode or wait for a processing slot.
    """
    _check_image_count(0, len(uploads), settings)
    if not uploads:
        return []
    end_reads(db)
    return [process_upload(upload.content, settings, name=upload.filename) for upload in uploads]


def _insert_images(
    db: Session, listing_id: int, processed: Sequence[ProcessedImage], *, last_position: int
) -> list[ListingImage]:
    added = [
        ListingImage(
            listing_id=listing_id,
            position=last_position + offset,
            content_type=item.content_type,
            width=item.width,
            height=item.height,
            sha256=item.sha256,
            data=item.data,
            thumbnail=item.thumbnail,
        )
        for offset, item in enumerate(processed, start=1)
    ]
    db.add_all(added)
    db.flush()
    return added


def _lock_and_add_images(
    db: Session, actor: User, listing_id: int, processed: Sequence[ProcessedImage], settings: Settings
) -> list[ListingImage]:
    """Under the listing's write lock: check the owner, count the images, refuse or insert.

    The lock makes count-check-insert one step: a concurrent upload to the same listing waits
    here until this transaction ends, then counts the images this one added.
    """
    _check_owned(db, actor, listing_id, locked=True)
    existing, last_position = db.execute(
        select(func.count(), func.coalesce(func.max(ListingImage.position), -1)).where(
            ListingImage.listing_id == listing_id
        )
    ).one()
    _check_image_count(int(existing), len(processed), settings)
    return _insert_images(db, listing_id, processed, last_position=int(last_position))


# --- writes -----------------------------------------------------------------------------------


def create_listing(
    db: Session, actor: User, fields: ListingFields, *, images: Sequence[Upload] = (), settings: Settings
) -> Listing:
    """Create an active listing (and its images) for ``actor``; nothing is saved if any input is bad.

    Raises ``Forbidden`` (not an active vendor) or ``InvalidInput`` (a field, a missing field, an image).
    """
    require_vendor(actor)
    values = fields.checked()
    for name in ("title", "description", "price_atomic", "stock", "category"):
        if name not in values:
            raise InvalidInput(f"The {name.replace('_', ' ')} is missing.", field=name)
    values.setdefault("description_format", DescriptionFormat.PLAIN.value)
    values.setdefault("ships_physical", False)
    processed = _processed(db, images, settings)
    listing = Listing(vendor_id=actor.id, status=ListingStatus.ACTIVE, **values)
    db.add(listing)
    db.flush()
    _insert_images(db, listing.id, processed, last_position=-1)
    return _reloaded(db, listing.id)


def update_listing(
    db: Session,
    actor: User,
    listing_id: int,
    fields: ListingFields,
    *,
    status: str | None = None,
    images: Sequence[Upload] = (),
    settings: Settings,
) -> Listing:
    """Change the given fields (and pause or resume with ``status``) and add ``images``; all or nothing.

    Raises ``Forbidden``, ``NotFound`` (also when the listing is deleted meanwhile: it is never
    written into), ``InvalidInput`` (a field, ``status``, an image, too many images) or
    ``Conflict``.
    """
    require_vendor(actor)
    _check_owned(db, actor, listing_id)
    changes = fields.checked()
    if status is not None:
        if status not in (ListingStatus.ACTIVE, ListingStatus.PAUSED):
            raise InvalidInput("The status is either active or paused.", field="status")
        changes["status"] = ListingStatus(status)
    processed = _processed(db, images, settings)
    if processed:
        _lock_and_add_images(db, actor, listing_id, processed, settings)
    if changes or processed:
        _guarded_update(db, actor, listing_id, _text_changes(changes))
    if ("title" in changes) != ("description" in changes):
        _store_search_columns(db, listing_id)
    return _reloaded(db, listing_id)


def set_listing_status(db: Session, actor: User, listing_id: int, status: ListingStatus) -> None:
    """Pause (status paused), resume (active) or delete (deleted: gone for everyone) a listing.

    Setting the status it already has changes nothing. A listing deleted meanwhile stays deleted:
    raises ``NotFound`` then, as for another vendor's listing.
    """
    require_vendor(actor)
    if _check_owned(db, actor, listing_id) is status:
        return
    _guarded_update(db, actor, listing_id, {"status": status})


def add_images(
    db: Session, actor: User, listing_id: int, uploads: Sequence[Upload], settings: Settings
) -> list[ListingImage]:
    """Add images to a listing; if one is refused, none is added.

    Raises ``Forbidden``, ``NotFound`` or ``InvalidInput`` (field ``images``: a bad image, or
    more than ``settings.listing_max_images`` in all, counted under the listing's write lock).
    """
    require_vendor(actor)
    _check_owned(db, actor, listing_id)  # refuse a stranger before decoding anything
    processed = _processed(db, uploads, settings)
    added = _lock_and_add_images(db, actor, listing_id, processed, settings)
    _guarded_update(db, actor, listing_id, {})
    return added


def remove_image(db: Session, actor: User, listing_id: int, image_id: int) -> None:
    """Remove one image of a listing; the others keep their order.

    Raises ``Forbidden``, ``NotFound`` (no such listing, or no such image of it).
    """
    require_vendor(actor)
    # The guard first: it takes the listing's lock (the same order as adding images) and refuses
    # a listing that is not the actor's or is deleted; the image's DELETE must then match.
    _guarded_update(db, actor, listing_id, {})
    compare_and_set(
        db,
        sql_delete(ListingImage).where(ListingImage.id == image_id, ListingImage.listing_id == listing_id),
        refused=lambda: NotFound("This listing has no such image."),
    )
