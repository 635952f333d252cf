"""A fresh, migrated SQLite database with a few vendors and 10,000 listings, inserted in bulk.

Accounts go through ``create_account`` (argon2: ~80 ms each, so only a handful); listings and
images are inserted with SQLAlchemy Core in batches, which takes a second or two. Content is
generated from a fixed random seed, so every run measures the same data.
"""

from __future__ import annotations

import hashlib
import io
import random
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image
from sqlalchemy import func, insert, select

from marketplace.accounts.models import Role
from marketplace.accounts.services import create_account
from marketplace.db.engine import Database, make_engine
from marketplace.db.migrate import upgrade
from marketplace.listings.models import CATEGORIES, Listing, ListingImage

VALID_ADDRESS = "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge"
PICONERO_PER_XMR = 10**12
BATCH = 1000
ADMIN_USERNAME = "benchadmin"
# A word that appears in about one listing in eight: the search row searches for it.
SEARCH_WORD = "vintage"

_ADJECTIVES = [
    "Handmade", "Refurbished", "Rare", "Signed", "Compact", "Durable", "Organic", "Lightweight", "Classic",
    "Portable", "Premium", "Limited", "Sturdy", "Hand-painted", "Open-source", "Wireless", "Quiet", "Modular",
]  # fmt: skip
_NOUNS: dict[str, list[str]] = {
    "digital": ["e-book bundle", "font family", "icon set", "photo pack", "sample library", "game key"],
    "books": ["paperback", "first edition", "cookbook", "field guide", "poetry collection", "atlas"],
    "electronics": ["hardware wallet", "soldering kit", "mechanical keyboard", "router", "headphones", "SDR dongle"],
    "clothing": ["wool sweater", "rain jacket", "leather belt", "beanie", "hiking socks", "linen shirt"],
    "home": ["ceramic mug", "seed kit", "cast-iron pan", "wall clock", "herb planter", "cutting board"],
    "art": ["linocut print", "watercolour", "sketchbook", "clay figure", "embroidery hoop", "poster"],
    "services": ["logo design", "code review", "translation", "privacy audit", "tutoring hour", "node setup"],
    "other": ["mystery box", "sticker pack", "gift card", "puzzle", "board game", "keychain"],
}
_FILLER_TEXT = (
    "shipped worldwide in discreet packaging from a small workshop with care tested before sending every order "
    "includes tracking on request ask about bulk prices colours may vary slightly photos show the actual item "
    "made to last years of daily use packed with recycled material no returns on opened software message me first "
    "for custom sizes stock is limited restocked monthly"
)
_WORDS = _FILLER_TEXT.split()
# Words people would search for: every word of at least four letters the titles and descriptions use.
SEARCH_TERMS = sorted(
    {
        word.lower()
        for word in [*_ADJECTIVES, *(w for nouns in _NOUNS.values() for n in nouns for w in n.split()), *_WORDS]
        if len(word) >= 4 and word.isalpha()
    }
)


@dataclass(frozen=True)
class SeededData:
    """What the benchmark needs to know about the data it measures."""

    vendor_usernames: list[str]
    vendor_ids: list[int]
    admin_username: str
    password: str = field(repr=False)  # every seeded account's; never printed
    listings: int
    visible_listings: int
    visible_by_vendor: dict[int, int]
    images: int


def seed_database(database_url: str, *, listings: int, vendors: int = 5, image_every: int = 100) -> SeededData:
    """Migrate ``database_url`` and fill it; about 90% of the listings are publicly visible."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        database = Database(engine)
        password = secrets.token_urlsafe(18)
        usernames = [f"benchvendor{index}" for index in range(1, vendors + 1)]
        with database.session() as session:
            vendor_ids = []
            for username in usernames:
                user = create_account(session, username=username, password=password, role=Role.VENDOR)
                user.payout_address = VALID_ADDRESS
                vendor_ids.append(user.id)
            create_account(session, username=ADMIN_USERNAME, password=password, role=Role.ADMIN)
        rng = random.Random(20261128)  # fixed: every run measures the same rows
        now = datetime.now(UTC)
        with engine.begin() as connection:
            for start in range(0, listings, BATCH):
                rows = [_listing_row(rng, vendor_ids, now) for _ in range(min(BATCH, listings - start))]
                connection.execute(insert(Listing), rows)
            listing_ids = list(connection.scalars(select(Listing.id).order_by(Listing.id)))
            image_rows = [_image_row(rng, listing_id, now) for listing_id in listing_ids[::image_every]]
            if image_rows:
                connection.execute(insert(ListingImage), image_rows)
            visible_by_vendor = {
                int(vendor_id): int(count)
                for vendor_id, count in connection.execute(
                    select(Listing.vendor_id, func.count())
                    .where(Listing.status == "active", Listing.hidden_at.is_(None))
                    .group_by(Listing.vendor_id)
                )
            }
        return SeededData(
            vendor_usernames=usernames,
            vendor_ids=vendor_ids,
            admin_username=ADMIN_USERNAME,
            password=password,
            listings=listings,
            visible_listings=sum(visible_by_vendor.values()),
            visible_by_vendor=visible_by_vendor,
            images=len(image_rows),
        )
    finally:
        engine.dispose()


def _listing_row(rng: random.Random, vendor_ids: list[int], now: datetime) -> dict[str, Any]:
    category = rng.choice(list(CATEGORIES))
    title = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS[category])}"
    if rng.random() < 0.125:
        title = f"{SEARCH_WORD.capitalize()} {title.lower()}"
    sentences = [
        " ".join(rng.choices(_WORDS, k=rng.randint(6, 16))).capitalize() + "." for _ in range(rng.randint(2, 8))
    ]
    markdown = rng.random() < 0.3
    description = ("**" + sentences[0] + "**\n\n- " + "\n- ".join(sentences[1:])) if markdown else " ".join(sentences)
    created = now - timedelta(seconds=rng.randint(0, 180 * 24 * 3600))
    roll = rng.random()
    status = "paused" if roll < 0.05 else "deleted" if roll < 0.08 else "active"
    return {
        "vendor_id": rng.choice(vendor_ids),
        "title": title,
        "description": description,
        "description_format": "markdown" if markdown else "plain",
        # Integer piconero: 0.001 to 25 XMR in steps of 0.001 XMR.
        "price_atomic": rng.randint(1, 25_000) * (PICONERO_PER_XMR // 1000),
        "stock": rng.randint(0, 500),
        "category": category,
        "status": status,
        "hidden_at": created if status == "active" and rng.random() < 0.02 else None,
        "created_at": created,
        "updated_at": created,
    }


def _image_row(rng: random.Random, listing_id: int, now: datetime) -> dict[str, Any]:
    colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    data = _jpeg(Image.new("RGB", (800, 600), colour))
    thumbnail = _jpeg(Image.new("RGB", (320, 240), colour))
    return {
        "listing_id": listing_id,
        "position": 0,
        "content_type": "image/jpeg",
        "width": 800,
        "height": 600,
        "sha256": hashlib.sha256(data).hexdigest(),
        "data": data,
        "thumbnail": thumbnail,
        "created_at": now,
    }


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()
