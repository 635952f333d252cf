"""The "Buy" form of a listing page: what it shows before placing, and placing from it.

Shipping details: asked for, and required, only when the listing ships physical goods
(``Listing.ships_physical``). For a listing that does not (digital goods, a service), the form
has no such field and a value sent anyway is ignored (never stored): nothing would be shipped.
The API (``POST /api/v1/orders``) keeps ``shipping_info`` optional for every listing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import Role, User
from marketplace.errors import InvalidInput, NotFound
from marketplace.listings.models import Listing, ListingStatus
from marketplace.listings.services import STOCK_MAX
from marketplace.orders import services, states
from marketplace.orders.models import Order
from marketplace.settings import Settings
from marketplace.web.numbers import parse_count


@dataclass
class BuyForm:
    """What the buyer typed, kept to show the form again after a refusal."""

    quantity: str = "1"
    refund_address: str = ""
    shipping_info: str = ""


def buy_context(
    settings: Settings, viewer: User | None, listing: Listing, form: BuyForm | None = None
) -> dict[str, Any]:
    """The listing page's part about buying: the form, the fee, who holds the keys."""
    return {
        "buy_form": form or BuyForm(),
        "may_buy": viewer is not None and viewer.role is Role.BUYER and listing.status is ListingStatus.ACTIVE,
        "escrow_on": settings.escrow_configured,
        "fee_percent": fee_percent(settings.fee_basis_points),
        "confirmations_needed": settings.confirmations,
    }


def fee_percent(basis_points: int) -> str:
    """150 → "1.5%"."""
    whole, rest = divmod(basis_points, 100)
    return f"{whole}.{rest:02d}".rstrip("0").rstrip(".") + "%"


def buy(db: Session, settings: Settings, buyer: User, listing_id: int, form: BuyForm) -> Order:
    """Place an order from the form (``services.place``); ``InvalidInput`` naming the field for bad input."""
    ships_physical = db.scalar(
        select(Listing.ships_physical).where(Listing.id == listing_id, Listing.status != ListingStatus.DELETED)
    )
    if ships_physical is None:
        raise NotFound("There is no such listing.")
    quantity = parse_count(
        form.quantity,
        field="quantity",
        minimum=1,
        maximum=STOCK_MAX,
        message="Enter how many you want: a whole number from 1.",
    )
    shipping_info = form.shipping_info if ships_physical else None
    if ships_physical and not form.shipping_info.strip():
        raise InvalidInput("Enter where the vendor should ship it (the shipping details).", field="shipping_info")
    request = states.NewOrder(
        listing_id=listing_id,
        quantity=quantity,
        refund_address=form.refund_address.strip(),
        shipping_info=shipping_info,
    )
    return services.place(db, settings, buyer, request)
