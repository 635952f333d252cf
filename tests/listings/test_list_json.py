"""The list API answers from raw rows (the lean path), with exactly the bytes of the documented model."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import select

from marketplace.accounts.models import Role, User
from marketplace.db.engine import Database
from marketplace.listings.listing_sql import SortOrder
from marketplace.listings.models import Listing
from marketplace.listings.queries import browse_listings
from marketplace.listings.schemas import ListingCardOut, ListingPageOut, VendorOut, image_url, page_json, thumbnail_url
from marketplace.monero.amounts import format_xmr
from tests.listings.conftest import store_images
from tests.support.client import SiteClient


def _expected(database: Database, ids: list[int], *, total: int, page: int, page_size: int) -> bytes:
    """The page as pydantic writes ``ListingPageOut``, from the ORM's objects."""
    with database.session() as session:
        by_id = {listing.id: listing for listing in session.scalars(select(Listing).where(Listing.id.in_(ids)))}
        items = []
        for listing_id in ids:
            listing = by_id[listing_id]
            first = min(listing.images, key=lambda image: (image.position, image.id)) if listing.images else None
            items.append(
                ListingCardOut(
                    id=listing.id,
                    title=listing.title,
                    price_atomic=listing.price_atomic,
                    price_xmr=format_xmr(listing.price_atomic),
                    in_stock=listing.stock > 0,
                    category=listing.category,
                    status=listing.status,
                    vendor=VendorOut(id=listing.vendor.id, username=listing.vendor.username),
                    thumbnail_url=None if first is None else thumbnail_url(first.id),
                    image_url=None if first is None else image_url(first.id),
                    created_at=listing.created_at,
                    updated_at=listing.updated_at,
                )
            )
    return ListingPageOut(items=items, total=total, page=page, page_size=page_size).model_dump_json().encode()


@pytest.mark.parametrize("sort", list(SortOrder))
def test_list_answers_are_byte_for_byte_the_documented_model(
    client: SiteClient,
    database: Database,
    make_user: Callable[..., User],
    make_listing: Callable[..., Listing],
    sort: SortOrder,
) -> None:
    vendor = make_user(Role.VENDOR)
    whole_second = datetime(2026, 11, 2, 9, 30, 0, tzinfo=UTC)
    fraction = datetime(2026, 11, 2, 9, 30, 0, 120, tzinfo=UTC)
    made = [
        make_listing(vendor, title='Quote " and \\ backslash', created_at=whole_second, updated_at=whole_second),
        make_listing(vendor, title="Матрёшка 🪆", stock=0, created_at=fraction, updated_at=fraction),
        make_listing(vendor, title="Pictured", price_atomic=1, category="art"),
    ]
    store_images(database, made[2].id, 2)

    for params, page, page_size in (({}, 1, 2), ({"page": "2"}, 2, 2), ({"q": "МАТРЕШКА"}, 1, 2)):
        response = client.get("/api/v1/listings", params={"sort": sort.value, "page_size": "2", **params})
        ids = [item["id"] for item in response.json()["items"]]
        total = response.json()["total"]
        assert ids, params
        assert response.content == _expected(database, ids, total=total, page=page, page_size=page_size), params
        # The browse pages' cards give the same bytes.
        with database.session() as db:
            cards = browse_listings(db, q=params.get("q"), sort=sort, page=page, page_size=page_size)
        assert orjson.dumps(page_json(cards)) == response.content, params
