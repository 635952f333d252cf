"""Racing changes to one listing, on SQLite and PostgreSQL: the listing's rules hold.

At most ``listing_max_images`` images however many uploads race; a listing deleted while a pause,
resume or edit is under way stays deleted and unedited; one image removed twice is removed once.
Every loser gets a domain error (422, 404), never a 500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.db.engine import Database
from marketplace.errors import InvalidInput, NotFound
from marketplace.listings import services
from marketplace.listings.models import Listing, ListingImage, ListingStatus
from marketplace.settings import Settings
from tests.listings.conftest import image_bytes, store_images
from tests.support.api import assert_api_error
from tests.support.concurrency import HttpAnswer, HttpRequest, interleave, parallel_requests, run_together
from tests.support.factories import Person

TIMEOUT_S = 20.0
_BOUNDARY = "listing-image-race"


def _image_upload(person: Person, listing_id: int) -> HttpRequest:
    """A multipart POST of one 640×480 JPEG to the listing's images, as ``person``."""
    part = (
        f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="photo.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return HttpRequest(
        "POST",
        f"/api/v1/listings/{listing_id}/images",
        headers={
            "Authorization": person.client.headers["Authorization"],
            "Content-Type": f"multipart/form-data; boundary={_BOUNDARY}",
        },
        content=part + image_bytes((640, 480)) + f"\r\n--{_BOUNDARY}--\r\n".encode(),
    )


def _as_response(answer: HttpAnswer) -> httpx2.Response:
    return httpx2.Response(answer.status, headers=answer.headers, content=answer.body)


def _image_count(database: Database, listing_id: int) -> int:
    with database.session() as session:
        return int(
            session.scalar(select(func.count()).select_from(ListingImage).where(ListingImage.listing_id == listing_id))
            or 0
        )


def _listing_row(database: Database, listing_id: int) -> tuple[str, str]:
    with database.session() as session:
        listing = session.get(Listing, listing_id)
        assert listing is not None
        return str(listing.status), listing.title


def test_four_parallel_uploads_to_a_listing_with_six_images_end_with_eight(
    vendor: Person, database: Database, live_server: str, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor)["id"]
    store_images(database, listing, 6)

    answers = parallel_requests(live_server, [_image_upload(vendor, listing)] * 4, timeout_s=TIMEOUT_S)

    statuses = sorted(answer.status for answer in answers)
    assert statuses == [201, 201, 422, 422], [answer.text for answer in answers]
    for answer in answers:
        if answer.status == 422:
            assert_api_error(_as_response(answer), 422, "invalid", field="file", message="at most 8 images")
    assert _image_count(database, listing) == 8
    assert len(vendor.client.get(f"/api/v1/listings/{listing}").json()["images"]) == 8


def _adding_images(database: Database, settings: Settings, vendor_id: int, listing_id: int, how: str) -> Iterator[str]:
    """Add one image in a session of its own; pause after writing, before the commit."""
    uploads = [services.Upload("small.png", image_bytes((8, 6), fmt="PNG"))]
    with database.session() as db:
        actor = db.get(User, vendor_id)
        assert actor is not None
        if how == "add_images":
            services.add_images(db, actor, listing_id, uploads, settings)
        else:
            services.update_listing(db, actor, listing_id, services.ListingFields(), images=uploads, settings=settings)
        yield "added"  # the listing's write lock is held until the commit
    yield "committed"
    return True


@pytest.mark.parametrize("how", ["add_images", "update_listing"])
def test_an_upload_waits_for_the_one_holding_the_lock_then_counts_its_image(
    vendor: Person, database: Database, settings: Settings, create_listing: Callable[..., dict[str, Any]], how: str
) -> None:
    listing = create_listing(vendor)["id"]
    store_images(database, listing, 7)

    run = interleave(
        {name: partial(_adding_images, database, settings, vendor.user.id, listing, how) for name in ("a", "b")},
        ["a:added", "b:added", "a:committed", "b:committed"],
        timeout_s=TIMEOUT_S,
    )

    assert run["a"].unwrap() is True
    # b decoded its image, then waited for a's lock (SQLite: the database's; PostgreSQL: the row's) ...
    assert run["b"].blocked, run
    assert run.seq("b", "raised") > run.seq("a", "step", "committed"), run
    # ... and then counted a's image: refused, by field, not a crash.
    refusal = run["b"].error
    assert isinstance(refusal, InvalidInput), run["b"].error
    assert refusal.field == "images"
    assert "it has 8, so you can add 0 more" in refusal.message
    assert _image_count(database, listing) == 8


def _setting_status(database: Database, vendor_id: int, listing_id: int, status: ListingStatus) -> Iterator[str]:
    with database.session() as db:
        actor = db.get(User, vendor_id)
        assert actor is not None
        services.set_listing_status(db, actor, listing_id, status)
        yield "written"
    yield "committed"
    return True


def _renaming(database: Database, settings: Settings, vendor_id: int, listing_id: int) -> Iterator[str]:
    with database.session() as db:
        actor = db.get(User, vendor_id)
        assert actor is not None
        services.update_listing(db, actor, listing_id, services.ListingFields(title="Renamed"), settings=settings)
        yield "written"
    yield "committed"
    return True


def test_a_resume_racing_a_delete_never_brings_the_listing_back(
    vendor: Person, database: Database, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor)["id"]
    vendor.client.patch(f"/api/v1/listings/{listing}", json={"status": "paused"})

    run = interleave(
        {
            "delete": partial(_setting_status, database, vendor.user.id, listing, ListingStatus.DELETED),
            "resume": partial(_setting_status, database, vendor.user.id, listing, ListingStatus.ACTIVE),
        },
        # Both have read "paused"; the delete writes first and holds the row until it commits.
        ["delete:written", "resume:written", "delete:committed", "resume:committed"],
        timeout_s=TIMEOUT_S,
    )

    assert run["delete"].unwrap() is True
    assert run["resume"].blocked, run
    assert isinstance(run["resume"].error, NotFound), run
    assert _listing_row(database, listing)[0] == "deleted"
    assert_api_error(vendor.client.get(f"/api/v1/listings/{listing}"), 404, "not_found")


def test_a_delete_after_a_resume_still_deletes(
    vendor: Person, database: Database, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor)["id"]
    vendor.client.patch(f"/api/v1/listings/{listing}", json={"status": "paused"})

    run = interleave(
        {
            "resume": partial(_setting_status, database, vendor.user.id, listing, ListingStatus.ACTIVE),
            "delete": partial(_setting_status, database, vendor.user.id, listing, ListingStatus.DELETED),
        },
        ["resume:written", "delete:written", "resume:committed", "delete:committed"],
        timeout_s=TIMEOUT_S,
    )

    assert (run["resume"].unwrap(), run["delete"].unwrap()) == (True, True)
    assert run["delete"].blocked, run
    assert _listing_row(database, listing)[0] == "deleted"


def test_an_edit_racing_a_delete_does_not_write_into_the_deleted_listing(
    vendor: Person, database: Database, settings: Settings, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor, title="Original")["id"]

    run = interleave(
        {
            "delete": partial(_setting_status, database, vendor.user.id, listing, ListingStatus.DELETED),
            "edit": partial(_renaming, database, settings, vendor.user.id, listing),
        },
        ["delete:written", "edit:written", "delete:committed", "edit:committed"],
        timeout_s=TIMEOUT_S,
    )

    assert run["delete"].unwrap() is True
    assert run["edit"].blocked, run
    assert isinstance(run["edit"].error, NotFound), run
    assert _listing_row(database, listing) == ("deleted", "Original")


def test_an_image_removed_twice_at_once_is_removed_once(
    vendor: Person, database: Database, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor)["id"]
    store_images(database, listing, 2)
    with database.session() as session:
        first = session.scalars(select(ListingImage.id).where(ListingImage.listing_id == listing)).first()
    assert first is not None

    def remove() -> None:
        with database.session() as db:
            actor = db.get(User, vendor.user.id)
            assert actor is not None
            services.remove_image(db, actor, listing, first)

    outcomes = run_together([remove, remove], timeout_s=TIMEOUT_S)

    assert sorted(outcome.ok for outcome in outcomes) == [False, True], outcomes
    refusal = next(outcome.error for outcome in outcomes if not outcome.ok)
    assert isinstance(refusal, NotFound), refusal
    assert _image_count(database, listing) == 1


def test_an_image_is_removed_only_through_its_own_listing(
    vendor: Person, database: Database, create_listing: Callable[..., dict[str, Any]]
) -> None:
    mine = create_listing(vendor)["id"]
    other = create_listing(vendor)["id"]
    store_images(database, other, 1)
    other_image = vendor.client.get(f"/api/v1/listings/{other}").json()["images"][0]["id"]

    response = vendor.client.delete(f"/api/v1/listings/{mine}/images/{other_image}")

    assert_api_error(response, 404, "not_found", message="no such image")
    assert _image_count(database, other) == 1
