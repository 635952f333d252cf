"""Fixtures for the admin tests: signed-in browsers and API clients for any account, and listings."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from marketplace.accounts.auth import SESSION_COOKIE
from marketplace.accounts.models import Role, User
from marketplace.accounts.sessions import issue_api_token, start_web_session
from marketplace.db.engine import Database
from marketplace.listings.models import Listing
from marketplace.settings import Settings
from tests.support.client import SiteClient

MAINNET_ADDRESS = "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge"


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN)


@pytest.fixture
def browser_for(
    database: Database, settings: Settings, make_client: Callable[[], SiteClient]
) -> Callable[[User], SiteClient]:
    """A browser signed in as ``user`` (the sign-in itself is the accounts domain's to test)."""

    def make(user: User) -> SiteClient:
        with database.session() as session:
            token = start_web_session(
                session, session.get(User, user.id), settings, client_address="testclient", user_agent="pytest"
            )
        site = make_client()
        site.cookies.set(SESSION_COOKIE, token)
        return site

    return make


@pytest.fixture
def api_for(database: Database, make_client: Callable[[], SiteClient]) -> Callable[[User], SiteClient]:
    """An API client holding a fresh token of ``user``."""

    def make(user: User) -> SiteClient:
        with database.session() as session:
            token = issue_api_token(session, session.get(User, user.id), "pytest")
        site = make_client()
        site.use_token(token)
        return site

    return make


@pytest.fixture
def make_listing(database: Database, make_user: Callable[..., User]) -> Callable[..., Listing]:
    """Insert a listing directly (creating it through the site is the listings domain's to test)."""

    def make(vendor: User | None = None, title: str = "Hand-bound notebook", status: str = "active") -> Listing:
        owner = vendor or make_user(Role.VENDOR)
        with database.session() as session:
            listing = Listing(
                vendor_id=owner.id,
                title=title,
                description="A5, 120 pages.",
                price_atomic=250_000_000_000,
                stock=3,
                category="books",
                status=status,
            )
            session.add(listing)
            session.flush()
            session.refresh(listing)
            return listing

    return make
