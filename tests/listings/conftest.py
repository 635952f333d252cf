"""Listings-specific test helpers: vendors and buyers on their own clients, listings made through
the API, stored images and test image bytes.

Accounts and sign-ins come from the shared fixtures (``sign_up`` in ``tests/conftest.py``, over
``tests.support.factories``).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select, text

from marketplace.accounts.models import Role
from marketplace.db.engine import Database
from marketplace.listings.models import ListingImage
from marketplace.listings.search_text import search_columns
from tests.support.factories import Person

_titles = itertools.count(1)


@pytest.fixture
def vendor(sign_up: Callable[..., Person]) -> Person:
    return sign_up(Role.VENDOR)


@pytest.fixture
def other_vendor(sign_up: Callable[..., Person]) -> Person:
    return sign_up(Role.VENDOR)


@pytest.fixture
def buyer(sign_up: Callable[..., Person]) -> Person:
    return sign_up(Role.BUYER)


def listing_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": f"Listing {next(_titles)}",
        "description": "A fine thing.",
        "price_atomic": 1_500_000_000_000,
        "stock": 3,
        "category": "books",
    }
    body.update(overrides)
    return body


@pytest.fixture
def create_listing() -> Callable[..., dict[str, Any]]:
    """Create a listing through the API as ``person``; returns the JSON body."""

    def create(person: Person, **overrides: Any) -> dict[str, Any]:
        response = person.client.post("/api/v1/listings", json=listing_body(**overrides))
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return create


def image_bytes(
    size: tuple[int, int] = (640, 480), *, fmt: str = "JPEG", color: str = "steelblue", **save: Any
) -> bytes:
    out = io.BytesIO()
    mode = "RGBA" if fmt == "PNG" and save.pop("transparent", False) else "RGB"
    Image.new(mode, size, color).save(out, format=fmt, **save)
    return out.getvalue()


def jpeg_with_gps(size: tuple[int, int] = (800, 600)) -> bytes:
    """A JPEG whose EXIF holds a camera model and a GPS position, plus an ICC profile and a comment."""
    image = Image.new("RGB", size, "olive")
    exif = image.getexif()
    exif[0x0110] = "Spy Camera 3000"  # Model
    exif[0x010F] = "Leaky Optics"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 29.0)
    gps[3] = "E"
    gps[4] = (2.0, 17.0, 40.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, icc_profile=b"\0" * 128, comment=b"secret comment")
    return out.getvalue()


def open_image(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


def store_images(database: Database, listing_id: int, count: int) -> None:
    """Give a listing ``count`` more images directly (tiny placeholder bytes), as if uploaded earlier."""
    with database.session() as session:
        last = session.scalar(select(func.count()).where(ListingImage.listing_id == listing_id)) or 0
        session.add_all(
            ListingImage(
                listing_id=listing_id,
                position=last + n,
                content_type="image/jpeg",
                width=4,
                height=3,
                sha256=f"{n:064x}",
                data=image_bytes((4, 3)),
                thumbnail=image_bytes((4, 3)),
            )
            for n in range(count)
        )


def assert_search_columns_match_the_text(database: Database) -> None:
    """Every listing's stored columns are its text folded now, and the search index is sound."""
    with database.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, title, description, search_text, title_key FROM listings")).all()
        for row in rows:
            assert {"search_text": row.search_text, "title_key": row.title_key} == search_columns(
                row.title, row.description
            ), row.id
        if database.dialect == "sqlite":
            # Raises "database disk image is malformed" if the FTS5 index and the column disagree.
            connection.execute(text("INSERT INTO listings_search(listings_search) VALUES ('integrity-check')"))
        else:
            valid = connection.execute(
                text("SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_listings_search_text_trgm'::regclass")
            ).scalar_one()
            assert valid is True
