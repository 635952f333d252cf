"""Who may call which service: the services check their actor themselves, not only the routes.

A page, the API, the CLI and a worker all reach the same services, so each refuses the wrong
actor with ``Forbidden`` before it touches anything. ``SERVICES`` lists every guarded service
with the actors it refuses and one it serves; a new service is one more line. Each refused call
runs in a transaction that is then committed, so a write made before the refusal would show in
the database; the served call proves the refusals were about the actor (and, for a write, that
the check of "nothing changed" sees this service's change).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import AccountStatus, ApiToken, Role, User, WebSession
from marketplace.accounts.sessions import issue_api_token
from marketplace.admin import services as admin
from marketplace.admin.models import ModerationAction
from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.errors import Forbidden, NotFound
from marketplace.listings import services as listings
from marketplace.listings.models import Listing, ListingImage, ListingStatus
from marketplace.settings import Settings
from tests.support.factories import DEFAULT_PASSWORD, unique_name


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "olive").save(out, format="PNG")
    return out.getvalue()


@dataclass(frozen=True)
class World:
    """Accounts of every kind, and what the services act on."""

    settings: Settings
    actors: dict[str, User]  # by the names used in SERVICES
    active_buyer: User  # a target to suspend (holds an API token)
    suspended_buyer: User  # a target to restore
    listing: Listing  # the vendor's, visible, with one image
    image_id: int
    hidden_listing: Listing  # the vendor's, hidden by a moderator


Call = Callable[[Session, User, World], Any]


@dataclass(frozen=True)
class Guarded:
    """A service call, the actors it must refuse, one it must serve, and whether that call writes."""

    call: Call
    refused: tuple[str, ...]
    allowed: str
    writes: bool


NOT_ADMINS = ("buyer", "vendor", "arbiter", "suspended admin")
NOT_VENDORS = ("buyer", "arbiter", "admin", "suspended vendor")


def _admins_only(call: Call, *, writes: bool) -> Guarded:
    return Guarded(call, refused=NOT_ADMINS, allowed="admin", writes=writes)


def _vendors_only(call: Call) -> Guarded:
    return Guarded(call, refused=NOT_VENDORS, allowed="vendor", writes=True)


SERVICES: dict[str, Guarded] = {
    "admin.suspend_account": _admins_only(
        lambda db, actor, w: admin.suspend_account(db, actor, w.active_buyer.id, "spam"), writes=True
    ),
    "admin.restore_account": _admins_only(
        lambda db, actor, w: admin.restore_account(db, actor, w.suspended_buyer.id, "ok"), writes=True
    ),
    "admin.create_account_as_admin": _admins_only(
        lambda db, actor, w: admin.create_account_as_admin(
            db, actor, username="newcomer", password=DEFAULT_PASSWORD, role="arbiter"
        ),
        writes=True,
    ),
    "admin.hide_listing": _admins_only(
        lambda db, actor, w: admin.hide_listing(db, actor, w.listing.id, "fake"), writes=True
    ),
    "admin.restore_listing": _admins_only(
        lambda db, actor, w: admin.restore_listing(db, actor, w.hidden_listing.id, "ok"), writes=True
    ),
    "admin.moderation_record": _admins_only(lambda db, actor, w: admin.moderation_record(db, actor), writes=False),
    "admin.search_accounts": _admins_only(lambda db, actor, w: admin.search_accounts(db, actor, "buyer"), writes=False),
    "admin.all_listings": _admins_only(lambda db, actor, w: admin.all_listings(db, actor), writes=False),
    "admin.dashboard": _admins_only(lambda db, actor, w: admin.dashboard(db, actor), writes=False),
    "admin.listing_titles": _admins_only(lambda db, actor, w: admin.listing_titles(db, actor, []), writes=False),
    "listings.create_listing": _vendors_only(
        lambda db, actor, w: listings.create_listing(
            db,
            actor,
            listings.ListingFields(
                title="Brass compass", description="Points north.", price_atomic=10**12, stock=1, category="other"
            ),
            settings=w.settings,
        )
    ),
    "listings.update_listing": _vendors_only(
        lambda db, actor, w: listings.update_listing(
            db, actor, w.listing.id, listings.ListingFields(title="Renamed"), settings=w.settings
        )
    ),
    "listings.set_listing_status": _vendors_only(
        lambda db, actor, w: listings.set_listing_status(db, actor, w.listing.id, ListingStatus.PAUSED)
    ),
    "listings.add_images": _vendors_only(
        lambda db, actor, w: listings.add_images(
            db, actor, w.listing.id, [listings.Upload("b.png", _png())], w.settings
        )
    ),
    "listings.remove_image": _vendors_only(
        lambda db, actor, w: listings.remove_image(db, actor, w.listing.id, w.image_id)
    ),
}


def _account(database: Database, role: Role, status: AccountStatus = AccountStatus.ACTIVE) -> User:
    # Inserted directly: these accounts never sign in, so they need no real password hash.
    name = unique_name(f"{role}-")
    with database.session() as session:
        user = User(username=name, username_key=name, password_hash="-", role=role, status=status)
        session.add(user)
        session.flush()
        session.refresh(user)
        return user


@pytest.fixture
def world(database: Database, settings: Settings, make_listing: Callable[..., Listing]) -> World:
    vendor = _account(database, Role.VENDOR)
    actors = {
        "buyer": _account(database, Role.BUYER),
        "vendor": vendor,
        "suspended vendor": _account(database, Role.VENDOR, AccountStatus.SUSPENDED),
        "arbiter": _account(database, Role.ARBITER),
        "admin": _account(database, Role.ADMIN),
        "suspended admin": _account(database, Role.ADMIN, AccountStatus.SUSPENDED),
    }
    active_buyer = _account(database, Role.BUYER)
    with database.session() as session:
        issue_api_token(session, active_buyer, "script")
    listing = make_listing(vendor=vendor)
    with database.session() as session:
        (image,) = listings.add_images(
            session, session.get(User, vendor.id), listing.id, [listings.Upload("a.png", _png())], settings
        )
    return World(
        settings=settings,
        actors=actors,
        active_buyer=active_buyer,
        suspended_buyer=_account(database, Role.BUYER, AccountStatus.SUSPENDED),
        listing=listing,
        image_id=image.id,
        hidden_listing=make_listing(vendor=vendor, hidden_at=utcnow()),
    )


def _everything(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """What any of these services could change, as plain rows."""
    queries = {
        "users": select(User.id, User.username, User.role, User.status).order_by(User.id),
        "listings": select(
            Listing.id,
            Listing.title,
            Listing.price_atomic,
            Listing.stock,
            Listing.status,
            Listing.hidden_at,
            Listing.updated_at,
        ).order_by(Listing.id),
        "images": select(ListingImage.id, ListingImage.listing_id, ListingImage.position).order_by(ListingImage.id),
        "moderation record": select(ModerationAction.id).order_by(ModerationAction.id),
        "api tokens": select(ApiToken.id, ApiToken.revoked_at).order_by(ApiToken.id),
        "web sessions": select(WebSession.id, WebSession.revoked_at).order_by(WebSession.id),
    }
    with database.session() as session:
        return {name: [tuple(row) for row in session.execute(query)] for name, query in queries.items()}


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_refuses_the_wrong_actor_before_touching_anything(
    database: Database, world: World, name: str
) -> None:
    service = SERVICES[name]
    before = _everything(database)

    for actor_name in service.refused:
        with database.session() as session:  # committed: a write before the refusal would stay
            actor = session.get(User, world.actors[actor_name].id)
            assert actor is not None
            with pytest.raises(Forbidden):
                service.call(session, actor, world)
        assert _everything(database) == before, f"{name} as {actor_name} changed something"

    with database.session() as session:
        service.call(session, session.get(User, world.actors[service.allowed].id), world)
    assert (_everything(database) != before) is service.writes, f"{name} as {service.allowed}"


@pytest.mark.parametrize(
    "call",
    [
        lambda db, actor: admin.suspend_account(db, actor, 999_999, ""),
        lambda db, actor: admin.hide_listing(db, actor, 999_999, "x" * 5000),
        lambda db, actor: admin.create_account_as_admin(db, actor, username="", password="", role="emperor"),
    ],
    ids=["suspend", "hide", "create"],
)
def test_the_actor_is_checked_before_the_input(
    database: Database, world: World, call: Callable[[Session, User], Any]
) -> None:
    # A buyer learns nothing from the answer (not which ids exist, nor what input would pass).
    with database.session() as session:
        actor = session.get(User, world.actors["buyer"].id)
        assert actor is not None
        with pytest.raises(Forbidden):
            call(session, actor)


@pytest.mark.parametrize(
    "name", [name for name in SERVICES if name.startswith("listings.") and name != "listings.create_listing"]
)
def test_another_vendor_is_told_the_listing_does_not_exist(database: Database, world: World, name: str) -> None:
    # Not Forbidden: whether a vendor's paused or hidden listing exists is not another vendor's to learn.
    stranger = _account(database, Role.VENDOR)
    before = _everything(database)
    with database.session() as session:
        actor = session.get(User, stranger.id)
        assert actor is not None
        with pytest.raises(NotFound, match="There is no such listing"):
            SERVICES[name].call(session, actor, world)
    assert _everything(database) == before
