"""Test data every domain's tests share: accounts, listings, signed-in clients, valid addresses.

Rows are made directly through the services or the models (the domain under test is exercised
through the site; the data it needs is not). Fixtures wrapping these live in ``tests/conftest.py``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from marketplace.accounts.auth import SESSION_COOKIE
from marketplace.accounts.models import Role, User
from marketplace.accounts.services import create_account
from marketplace.accounts.sessions import issue_api_token, start_web_session
from marketplace.db.engine import Database
from marketplace.listings.models import Listing, ListingStatus
from marketplace.settings import Settings
from tests.support.client import SiteClient

DEFAULT_PASSWORD = "a-long-enough-passphrase"
# Real addresses of each network (valid checksums and keys), for payout and refund fields.
MAINNET_ADDRESS = "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge"
STAGENET_ADDRESS = "549Dq9sBBmHKUzXdSFWoSM2CnFLa4h3kfBYQij8FK9VeUQCzpYsvBEzDdF8iZ9wP8QWju7e3FYm1ZVUFRY4jWEgJ33Z3EX7"

_counter = itertools.count(1)


def unique_name(prefix: str) -> str:
    """A username (or title) not used before in this test process."""
    return f"{prefix}{next(_counter)}"


def create_user(
    database: Database, role: Role | str = Role.BUYER, *, username: str | None = None, password: str = DEFAULT_PASSWORD
) -> User:
    """An active account of ``role`` whose password is ``password``."""
    chosen = Role(role)
    with database.session() as session:
        return create_account(session, username=username or unique_name(chosen.value), password=password, role=chosen)


def insert_listing(database: Database, vendor: User, **fields: Any) -> Listing:
    """A listing of ``vendor`` inserted directly (defaults: active, books, 0.25 XMR, 3 in stock)."""
    values: dict[str, Any] = {
        "title": unique_name("Hand-bound notebook "),
        "description": "A5, 120 pages.",
        "price_atomic": 250_000_000_000,
        "stock": 3,
        "category": "books",
        "status": ListingStatus.ACTIVE,
    }
    values.update(fields)
    with database.session() as session:
        listing = Listing(vendor_id=vendor.id, **values)
        session.add(listing)
        session.flush()
        session.refresh(listing)
        return listing


@dataclass
class Person:
    """An account and the client it uses: a browser (session cookie) and an API client (bearer token) at once."""

    user: User
    client: SiteClient

    @property
    def username(self) -> str:
        return self.user.username


def sign_in_directly(database: Database, settings: Settings, user: User, client: SiteClient) -> Person:
    """Give ``client`` a session cookie and an API token of ``user`` (the sign-in pages have their own tests)."""
    with database.session() as session:
        attached = session.get(User, user.id)
        assert attached is not None
        cookie = start_web_session(session, attached, settings, client_address="testclient", user_agent="pytest")
        token = issue_api_token(session, attached, "tests")
    client.cookies.set(SESSION_COOKIE, cookie)
    client.use_token(token)
    return Person(user=user, client=client)
