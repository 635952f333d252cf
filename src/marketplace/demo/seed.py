"""Idempotent demo data: four accounts (buyer, vendor, arbiter, admin) with known passwords and a
shop of listings with pictures.

The passwords are drawn at random the first time and kept in ``<data_dir>/demo-credentials.txt``
(mode 600), so every later run prints the same ones. Running the seed again creates nothing that
exists already: accounts are found by username, listings by the demo vendor's titles.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from monero.seed import Seed
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import Role, User
from marketplace.accounts.passwords import hash_password
from marketplace.accounts.services import create_account, find_user_by_username
from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.demo.catalogue import CATALOGUE, DemoListing
from marketplace.demo.pictures import draw_picture
from marketplace.listings.images import process_upload
from marketplace.listings.models import Listing, ListingImage, ListingStatus
from marketplace.settings import MoneroNetwork, Settings

CREDENTIALS_FILE = "demo-credentials.txt"
DEMO_ACCOUNTS: tuple[tuple[str, Role], ...] = (
    ("demo-buyer", Role.BUYER),
    ("demo-vendor", Role.VENDOR),
    ("demo-arbiter", Role.ARBITER),
    ("demo-admin", Role.ADMIN),
)
# A fixed, public wallet seed: its addresses are valid on every network and anyone can spend
# what is sent to them. Demo data only; the seed refuses to run outside development.
_DEMO_WALLET_SEED = "0" * 63 + "1"
_LIBRARY_NET = {
    MoneroNetwork.MAINNET: "main",
    MoneroNetwork.REGTEST: "main",
    MoneroNetwork.STAGENET: "stage",
    MoneroNetwork.TESTNET: "test",
}


class DemoSeedError(Exception):
    """The demo data cannot be laid down as asked (the message says why and what to do)."""


@dataclass
class SeedReport:
    credentials: list[tuple[str, str, str]] = field(default_factory=list)  # username, role, password
    accounts_created: int = 0
    passwords_reset: int = 0
    listings_created: int = 0
    images_created: int = 0


def demo_payout_address(network: MoneroNetwork) -> str:
    """A valid primary address of ``network`` for the demo vendor (from a public seed: never fund it)."""
    return str(Seed(_DEMO_WALLET_SEED).public_address(net=_LIBRARY_NET[network]))


def _read_credentials(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    stored = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            username, _, password = line.partition(" ")
            stored[username] = password.strip()
    return stored


def _write_credentials(path: Path, credentials: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Demo accounts made by `marketplace dev seed` (development only): username password"]
    lines += [f"{username} {password}" for username, password in credentials.items()]
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    os.chmod(temporary, 0o600)  # noqa: PTH101  (on the path we just opened, whatever the umask)
    temporary.replace(path)


def demo_credentials(data_dir: Path) -> tuple[dict[str, str], set[str]]:
    """The demo passwords by username, and the usernames whose password was drawn just now."""
    path = data_dir / CREDENTIALS_FILE
    credentials = _read_credentials(path)
    fresh = set()
    for username, _role in DEMO_ACCOUNTS:
        if not credentials.get(username):
            credentials[username] = secrets.token_urlsafe(15)
            fresh.add(username)
    if fresh or not path.exists():
        _write_credentials(path, credentials)
    os.chmod(path, 0o600)  # noqa: PTH101
    return credentials, fresh


def _ensure_account(session: Session, username: str, role: Role, password: str, *, fresh: bool) -> tuple[User, str]:
    user = find_user_by_username(session, username)
    if user is None:
        return create_account(session, username=username, password=password, role=role), "created"
    if user.role != role:
        msg = f"{username} exists with role {user.role}, not {role.value}; use a fresh data directory"
        raise DemoSeedError(msg)
    if fresh:
        # The credentials file was lost: make the account match the password printed now.
        user.password_hash = hash_password(password)
        return user, "reset"
    return user, "kept"


def _add_listing(session: Session, vendor: User, item: DemoListing, index: int, settings: Settings) -> int:
    created_at = utcnow() - timedelta(hours=5 * index + 1)
    listing = Listing(
        vendor_id=vendor.id,
        title=item.title,
        description=item.description,
        description_format=item.description_format,
        price_atomic=item.price_atomic,
        stock=item.stock,
        category=item.category,
        status=ListingStatus.ACTIVE.value,
        created_at=created_at,
        updated_at=created_at,
    )
    for position in range(item.images):
        # Through the real upload path: stored exactly as a vendor's photo would be.
        picture = process_upload(draw_picture(item.title, item.category, position + 1), settings)
        listing.images.append(
            ListingImage(
                position=position,
                content_type=picture.content_type,
                width=picture.width,
                height=picture.height,
                sha256=picture.sha256,
                data=picture.data,
                thumbnail=picture.thumbnail,
                created_at=created_at,
            )
        )
    session.add(listing)
    session.flush()
    return item.images


def seed_demo_data(
    database: Database, settings: Settings, *, on_listing: Callable[[str], None] | None = None
) -> SeedReport:
    """Create whatever demo data is missing, in one transaction; return what it did and the credentials.

    Raises ``DemoSeedError`` outside development or when a demo username is taken by another role.
    """
    if not settings.is_development:
        msg = "demo data is for development only; set MARKETPLACE_ENV=development"
        raise DemoSeedError(msg)
    credentials, fresh = demo_credentials(settings.data_dir)
    report = SeedReport()
    with database.session() as session:
        accounts = {}
        for username, role in DEMO_ACCOUNTS:
            user, outcome = _ensure_account(session, username, role, credentials[username], fresh=username in fresh)
            report.accounts_created += outcome == "created"
            report.passwords_reset += outcome == "reset"
            report.credentials.append((username, role.value, credentials[username]))
            accounts[username] = user
        vendor = accounts["demo-vendor"]
        if not vendor.payout_address:
            vendor.payout_address = demo_payout_address(settings.network)
        existing = set(session.scalars(select(Listing.title).where(Listing.vendor_id == vendor.id)))
        for index, item in enumerate(CATALOGUE):
            if item.title in existing:
                continue
            report.images_created += _add_listing(session, vendor, item, index, settings)
            report.listings_created += 1
            if on_listing is not None:
                on_listing(item.title)
    return report
