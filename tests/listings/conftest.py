"""Fixtures for the listings tests: signed-in vendors and buyers, listings and test images.

Sign-ins are created directly (a web session and an API token for the account) so that these
tests depend only on the listings domain; the sign-in pages have their own tests.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image

from marketplace.accounts.auth import SESSION_COOKIE
from marketplace.accounts.models import Role, User
from marketplace.accounts.sessions import issue_api_token, start_web_session
from marketplace.db.engine import Database
from marketplace.settings import Settings
from tests.support.client import SiteClient

_titles = itertools.count(1)


@dataclass
class Person:
    """An account and the browser (session cookie) and API client (bearer token) it uses."""

    user: User
    client: SiteClient

    @property
    def username(self) -> str:
        return self.user.username


@pytest.fixture
def sign_up(
    database: Database, settings: Settings, make_user: Callable[..., User], make_client: Callable[[], SiteClient]
) -> Callable[..., Person]:
    """Make an account of ``role``, signed in on its own client, with an API token attached."""

    def make(role: Role | str = Role.VENDOR, username: str | None = None) -> Person:
        user = make_user(role=role, username=username)
        with database.session() as session:
            attached = session.get(User, user.id)
            assert attached is not None
            cookie = start_web_session(session, attached, settings, client_address=None, user_agent="pytest")
            token = issue_api_token(session, attached, "tests")
        site = make_client()
        site.cookies.set(SESSION_COOKIE, cookie)
        site.use_token(token)
        return Person(user=user, client=site)

    return make


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
