"""Stock taken by orders and given back: one conditional UPDATE each, in the caller's transaction.

Where stock lives, and why: in ``listings.stock``, the listing's own row. An order takes units with
``reserve_stock`` in the same transaction as the order row (the escrow issue's order placement
calls it), so an order exists exactly when its units were taken; ``release_stock`` gives them back
when an order is cancelled or refunded. Neither touches ``updated_at`` (the vendor's last edit).

What this costs the catalogue: nothing, unless stock crosses zero. Cards (browse page, vendor
page, the list API) show only whether a listing is in stock, and the catalog-version triggers
(migration 0003) fire on a stock move only when it empties or refills a listing; the exact
number is shown by the listing's own page and ``GET /api/v1/listings/{id}``, read live. So on
PostgreSQL orders for different listings lock different rows and do not queue behind each other
(nor behind the one ``catalog_version`` row), and orders for the same listing queue on its row,
which is what makes "never sell more than the stock" hold. On SQLite every writer queues behind
the one write lock, by design: one writer at a time is SQLite's model, and these are short.
"""

from __future__ import annotations

from sqlalchemy import case, exists, select, update
from sqlalchemy.orm import Session

from marketplace.accounts.models import AccountStatus, User
from marketplace.db.writes import compare_and_set
from marketplace.errors import Conflict, InvalidInput, MarketplaceError, NotFound
from marketplace.listings.models import Listing, ListingStatus
from marketplace.listings.services import STOCK_MAX


def _check_quantity(quantity: int) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= STOCK_MAX:
        raise InvalidInput(f"The quantity is a whole number from 1 to {STOCK_MAX:,}.", field="quantity")
    return quantity


def reserve_stock(db: Session, listing_id: int, quantity: int) -> None:
    """Take ``quantity`` units of a listing that is for sale, or take none.

    For sale: active, not hidden by a moderator, its vendor's account active. Of concurrent
    reservations, those the stock covers succeed and the others are refused; none waits longer
    than the transaction holding the listing's row. Raises ``InvalidInput`` (field ``quantity``),
    ``NotFound`` (no such listing, or deleted), ``Conflict`` with state ``out_of_stock`` (fewer
    units than asked; the message says how many are left) or ``unavailable`` (paused, hidden, or
    the vendor's account not active).
    """
    _check_quantity(quantity)
    vendor_active = exists().where(User.id == Listing.vendor_id, User.status == AccountStatus.ACTIVE)
    statement = (
        update(Listing)
        .where(
            Listing.id == listing_id,
            Listing.stock >= quantity,
            Listing.status == ListingStatus.ACTIVE,
            Listing.hidden_at.is_(None),
            vendor_active,
        )
        .values(stock=Listing.stock - quantity)
    )
    compare_and_set(db, statement, refused=lambda: _reservation_refused(db, listing_id, quantity))


def _reservation_refused(db: Session, listing_id: int, quantity: int) -> MarketplaceError:
    row = db.execute(
        select(Listing.stock, Listing.status, Listing.hidden_at, User.status.label("vendor_status"))
        .join(User, User.id == Listing.vendor_id)
        .where(Listing.id == listing_id)
    ).one_or_none()
    if row is None or row.status is ListingStatus.DELETED:
        return NotFound("There is no such listing.")
    if (
        row.status is not ListingStatus.ACTIVE
        or row.hidden_at is not None
        or row.vendor_status is not AccountStatus.ACTIVE
    ):
        return Conflict("This listing is not for sale at the moment.", state="unavailable")
    if row.stock < quantity:
        left = "it is out of stock" if row.stock == 0 else f"only {row.stock} left"
        return Conflict(f"Not enough in stock: {left}.", state="out_of_stock")
    # Read committed (PostgreSQL): the units came back between the UPDATE and this read.
    return Conflict("The stock changed meanwhile; try again.", state="changed")


def release_stock(db: Session, listing_id: int, quantity: int) -> None:
    """Give back ``quantity`` units (a cancelled or refunded order), whatever the listing's status.

    The stock never goes above ``STOCK_MAX``, the most a vendor can set. Raises ``InvalidInput``
    (field ``quantity``) or ``NotFound`` (the listing row is gone).
    """
    _check_quantity(quantity)
    refilled = case((Listing.stock > STOCK_MAX - quantity, STOCK_MAX), else_=Listing.stock + quantity)
    compare_and_set(
        db,
        update(Listing).where(Listing.id == listing_id).values(stock=refilled),
        refused=lambda: NotFound("There is no such listing."),
    )
