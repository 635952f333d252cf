"""The selling pages as a vendor (and a buyer, and a stranger) uses them in a browser without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update

from marketplace.accounts.models import User
from marketplace.db.engine import Database
from tests.listings.conftest import image_bytes, jpeg_with_gps, open_image, store_images
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import Person

FORM = {
    "title": "Handmade mug",
    "description": "Stoneware.\nDishwasher safe.",
    "description_format": "plain",
    "price": "0.35",
    "stock": "4",
    "category": "home",
}


def _listing_id(response: Any) -> int:
    match = re.fullmatch(r"/listings/(\d+)(\?.*)?", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


def test_vendor_publishes_a_listing_with_an_image_from_the_form(vendor: Person, client: SiteClient) -> None:
    new_page = vendor.client.get("/sell/new")
    assert new_page.status_code == 200
    assert 'enctype="multipart/form-data"' in new_page.text
    assert 'type="file" name="images" multiple' in new_page.text

    response = vendor.client.submit(
        "/sell/new",
        "/sell/new",
        FORM,
        files=[
            ("images", ("mug.jpg", jpeg_with_gps(), "image/jpeg")),
            ("images", ("", b"", "application/octet-stream")),
        ],
    )
    assert response.status_code == 303, response.text
    listing_id = _listing_id(response)

    page = client.get(f"/listings/{listing_id}")
    assert page.status_code == 200
    assert "Handmade mug" in page.text
    assert "0.35 XMR" in page.text
    assert "Stoneware.<br>\nDishwasher safe." in page.text
    assert f'href="/vendors/{vendor.username}"' in page.text
    assert "Home and garden" in page.text
    assert "Edit" not in page.text  # a stranger sees no owner buttons
    image_path = re.search(r'src="(/images/\d+)"', page.text)
    assert image_path
    photo = open_image(client.get(image_path.group(1)).content)
    assert dict(photo.getexif()) == {}
    assert "exif" not in photo.info

    home = client.get("/")
    assert "Handmade mug" in home.text
    assert f'src="{image_path.group(1)}/thumbnail"' in home.text

    own = vendor.client.get(f"/listings/{listing_id}?notice=created")
    assert "Your listing is published." in own.text
    for action in ("edit", "pause", "delete"):
        assert f"/listings/{listing_id}/{action}" in own.text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ""}, "Enter a title."),
        ({"title": "x" * 121}, "at most 120"),
        ({"description": "  "}, "Enter a description."),
        ({"price": "-1"}, "for example 1000 or 0.25 (no commas)"),
        ({"price": "0"}, "more than zero"),
        ({"price": "1,000"}, "for example 1000 or 0.25 (no commas)"),
        ({"price": "0.0000000000001"}, "12 decimal places"),
        ({"price": "100000000000"}, "at most"),
        ({"stock": "-3"}, "whole number from 0 to 1,000,000"),
        ({"stock": "2.5"}, "whole number from 0 to 1,000,000"),
        ({"stock": "99999999999999"}, "whole number from 0 to 1,000,000"),
        ({"category": "weapons"}, "Choose a category"),
        ({"description_format": "html"}, "plain or markdown"),
    ],
)
def test_bad_form_input_shows_the_form_again_with_what_was_typed(
    vendor: Person, client: SiteClient, changes: dict[str, str], message: str
) -> None:
    data = {**FORM, "title": "Kept <b>title</b>", **changes}
    response = vendor.client.submit("/sell/new", "/sell/new", data)
    assert response.status_code == 422
    assert message in response.text
    assert 'class="field-error"' in response.text
    if "title" not in changes:
        assert 'value="Kept &lt;b&gt;title&lt;/b&gt;"' in response.text
    assert f'value="{data["price"]}"' in response.text
    assert client.get("/api/v1/listings").json()["total"] == 0
    assert "You have no listings yet" in vendor.client.get("/sell").text


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("images", ("notes.jpg", b"just some text", "image/jpeg"))], "not a JPEG, PNG, WebP or GIF"),
        ([("images", ("cut.jpg", image_bytes((900, 900))[:3000], "image/jpeg"))], "damaged or truncated"),
        ([("images", (f"p{n}.png", image_bytes((20, 20), fmt="PNG"), "image/png")) for n in range(9)], "at most 8"),
    ],
    ids=["text-file", "truncated", "nine-images"],
)
def test_a_bad_image_refuses_the_whole_form(vendor: Person, client: SiteClient, files: list[Any], message: str) -> None:
    response = vendor.client.submit("/sell/new", "/sell/new", FORM, files=files)
    assert response.status_code == 422
    assert message in response.text
    assert "Choose the images again." in response.text
    assert 'value="Handmade mug"' in response.text
    assert client.get("/api/v1/listings").json()["total"] == 0


def test_buyers_and_strangers_cannot_sell(buyer: Person, client: SiteClient) -> None:
    for path in ("/sell", "/sell/new"):
        page = buyer.client.get(path)
        assert page.status_code == 403
        assert "Only vendor accounts can sell" in page.text
        assert buyer.username in page.text  # still shown as signed in
        redirect = client.get(path)
        assert redirect.status_code == 303
        assert redirect.headers["location"].startswith("/login")
    refused = buyer.client.submit("/", "/sell/new", FORM)
    assert refused.status_code == 403
    assert client.get("/api/v1/listings").json()["total"] == 0


def test_form_posts_need_the_csrf_token(vendor: Person, client: SiteClient) -> None:
    response = vendor.client.post("/sell/new", data=FORM)
    assert response.status_code == 403
    forged = vendor.client.post("/sell/new", data={**FORM, "csrf_token": "forged"})
    assert forged.status_code == 403
    assert client.get("/api/v1/listings").json()["total"] == 0


def test_vendor_edits_adds_and_removes_images(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor, title="Old title", price_atomic=2 * 10**12)
    edit = f"/listings/{listing['id']}/edit"
    form = vendor.client.get(edit)
    assert form.status_code == 200
    assert 'value="Old title"' in form.text
    assert 'value="2.0"' in form.text

    data = {**FORM, "title": "New title", "price": "1.25"}
    files = [("images", (f"{n}.png", image_bytes((50, 40), fmt="PNG"), "image/png")) for n in range(2)]
    saved = vendor.client.submit(edit, edit, data, files=files)
    assert saved.status_code == 303
    after = vendor.client.get(saved.headers["location"])
    assert "Your changes are saved." in after.text
    shown = client.get(f"/api/v1/listings/{listing['id']}").json()
    assert (shown["title"], shown["price_xmr"], shown["stock"]) == ("New title", "1.25", 4)
    first, second = (image["id"] for image in shown["images"])

    removed = vendor.client.submit(edit, f"/listings/{listing['id']}/images/{first}/delete", {})
    assert removed.status_code == 303
    assert "The image is removed." in vendor.client.get(removed.headers["location"]).text
    assert [image["id"] for image in client.get(f"/api/v1/listings/{listing['id']}").json()["images"]] == [second]

    bad = vendor.client.submit(edit, edit, {**data, "stock": "lots"})
    assert bad.status_code == 422
    assert "whole number" in bad.text
    assert f"/images/{second}/thumbnail" in bad.text  # the image list is still shown
    assert client.get(f"/api/v1/listings/{listing['id']}").json()["stock"] == 4


def test_pause_resume_and_delete_buttons(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor, title="Lamp")
    page = f"/listings/{listing['id']}"

    paused = vendor.client.submit("/sell", f"{page}/pause", {})
    assert paused.status_code == 303
    sell = vendor.client.get(paused.headers["location"])
    assert "The listing is paused" in sell.text
    assert "Paused" in sell.text
    assert "Lamp" in sell.text
    assert client.get(page).status_code == 404
    assert "Lamp" not in client.get("/").text

    assert vendor.client.submit("/sell", f"{page}/resume", {}).status_code == 303
    assert client.get(page).status_code == 200

    assert vendor.client.submit("/sell", f"{page}/delete", {}).status_code == 303
    assert client.get(page).status_code == 404
    assert vendor.client.get(page).status_code == 404
    assert "Lamp" not in vendor.client.get("/sell").text
    assert vendor.client.get(f"{page}/edit").status_code == 404


def test_another_vendor_cannot_edit_pause_or_delete(
    vendor: Person, other_vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor, title="Not yours")
    page = f"/listings/{listing['id']}"
    edit_page = other_vendor.client.get(f"{page}/edit")
    assert edit_page.status_code == 404
    assert "There is no such listing." in edit_page.text
    for action in ("edit", "pause", "delete"):
        response = other_vendor.client.submit("/sell", f"{page}/{action}", {**FORM, "title": "Stolen"})
        assert response.status_code == 404
        assert "There is no such listing." in response.text
    assert client.get(f"/api/v1/listings/{listing['id']}").json() == listing
    own = other_vendor.client.get(page)
    assert own.status_code == 200
    assert f"{page}/edit" not in own.text


def test_unknown_things_get_the_404_page(vendor: Person, client: SiteClient) -> None:
    for path in ("/listings/424242", "/listings/abc", "/listings/99999999999999999999", "/vendors/nobody-here"):
        response = client.get(path)
        assert response.status_code == 404
        assert "Not found" in response.text
    assert vendor.client.get("/listings/424242/edit").status_code == 404
    assert vendor.client.submit("/sell", "/listings/424242/pause", {}).status_code == 404


def test_vendor_page_shows_visible_listings_and_the_pgp_key(
    vendor: Person,
    buyer: Person,
    client: SiteClient,
    database: Database,
    create_listing: Callable[..., dict[str, Any]],
) -> None:
    key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n<mQINBF>\n-----END PGP PUBLIC KEY BLOCK-----"
    with database.session() as session:
        session.execute(update(User).where(User.id == vendor.user.id).values(pgp_key=key))
    shown = create_listing(vendor, title="Shown here")
    paused = create_listing(vendor, title="Paused one")
    vendor.client.patch(f"/api/v1/listings/{paused['id']}", json={"status": "paused"})

    page = client.get(f"/vendors/{vendor.username}")
    assert page.status_code == 200
    assert "Shown here" in page.text
    assert "Paused one" not in page.text
    assert "<pre>-----BEGIN PGP PUBLIC KEY BLOCK-----\n&lt;mQINBF&gt;\n" in page.text
    assert f"/listings/{shown['id']}" in page.text
    # Vendor pages are for vendors; a buyer's name leads nowhere.
    assert client.get(f"/vendors/{buyer.username}").status_code == 404
    assert client.get(f"/vendors/{vendor.username.upper()}").status_code == 200


def test_sell_page_lists_every_status_with_its_actions(
    vendor: Person, other_vendor: Person, create_listing: Callable[..., dict[str, Any]]
) -> None:
    active = create_listing(vendor, title="Active thing")
    paused = create_listing(vendor, title="Paused thing")
    deleted = create_listing(vendor, title="Deleted thing")
    create_listing(other_vendor, title="Someone else's")
    vendor.client.patch(f"/api/v1/listings/{paused['id']}", json={"status": "paused"})
    vendor.client.delete(f"/api/v1/listings/{deleted['id']}")

    page = vendor.client.get("/sell")
    assert page.status_code == 200
    assert 'href="/sell/new"' in page.text
    assert "Active thing" in page.text
    assert "Paused thing" in page.text
    assert "Deleted thing" not in page.text
    assert "Someone else" not in page.text
    assert f"/listings/{active['id']}/pause" in page.text
    assert f"/listings/{paused['id']}/resume" in page.text


def test_a_bad_image_in_the_edit_form_changes_nothing(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor, title="Unchanged")
    edit = f"/listings/{listing['id']}/edit"
    files = [
        ("images", ("good.png", image_bytes((30, 30), fmt="PNG"), "image/png")),
        ("images", ("bad.jpg", b"<?php system($_GET['x']); ?>", "image/jpeg")),
    ]
    response = vendor.client.submit(edit, edit, {**FORM, "title": "Changed"}, files=files)
    assert response.status_code == 422
    assert "“bad.jpg” is not a JPEG, PNG, WebP or GIF image" in response.text
    assert 'value="Changed"' in response.text  # what the vendor typed is kept
    assert client.get(f"/api/v1/listings/{listing['id']}").json() == listing


def test_an_admin_can_look_at_a_hidden_listing(
    vendor: Person,
    sign_up: Callable[..., Person],
    client: SiteClient,
    database: Database,
    create_listing: Callable[..., dict[str, Any]],
) -> None:
    from sqlalchemy import update as sql_update

    from marketplace.db.base import utcnow
    from marketplace.listings.models import Listing

    admin = sign_up("admin")
    listing = create_listing(vendor, title="Under review")
    with database.session() as session:
        session.execute(sql_update(Listing).where(Listing.id == listing["id"]).values(hidden_at=utcnow()))
    page = admin.client.get(f"/listings/{listing['id']}")
    assert page.status_code == 200
    assert "Hidden by a moderator" in page.text
    assert f"/listings/{listing['id']}/edit" not in page.text  # an admin moderates, but does not edit
    assert client.get(f"/listings/{listing['id']}").status_code == 404
    assert_api_error(admin.client.patch(f"/api/v1/listings/{listing['id']}", json={"title": "x"}), 403, "forbidden")


def test_a_refused_image_removal_leaves_the_listing_unchanged(
    vendor: Person, client: SiteClient, database: Database, create_listing: Callable[..., dict[str, Any]]
) -> None:
    # remove_image writes its guard (the listing's updated_at) before the image's DELETE finds
    # nothing; the page shows the form again, and the refusal must take that write back.
    listing = create_listing(vendor, title="Keeps its date")
    other = create_listing(vendor, title="Holds the image")
    store_images(database, other["id"], 1)
    image = vendor.client.get(f"/api/v1/listings/{other['id']}").json()["images"][0]["id"]
    before = client.get(f"/api/v1/listings/{listing['id']}").json()
    edit = f"/listings/{listing['id']}/edit"

    response = vendor.client.submit(edit, f"/listings/{listing['id']}/images/{image}/delete", {})

    assert response.status_code == 404
    assert "This listing has no such image." in response.text
    assert 'value="Keeps its date"' in response.text  # the edit form again
    assert client.get(f"/api/v1/listings/{listing['id']}").json() == before
    assert len(client.get(f"/api/v1/listings/{other['id']}").json()["images"]) == 1


def test_an_edit_with_too_many_images_changes_nothing(
    vendor: Person, client: SiteClient, database: Database, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor, title="Seven pictures")
    store_images(database, listing["id"], 7)
    before = client.get(f"/api/v1/listings/{listing['id']}").json()
    edit = f"/listings/{listing['id']}/edit"
    files = [("images", (f"{n}.png", image_bytes((30, 30), fmt="PNG"), "image/png")) for n in range(2)]

    response = vendor.client.submit(edit, edit, {**FORM, "title": "Renamed"}, files=files)

    assert response.status_code == 422
    assert "it has 7, so you can add 1 more" in response.text
    assert 'value="Renamed"' in response.text
    assert client.get(f"/api/v1/listings/{listing['id']}").json() == before


def test_pausing_a_listing_deleted_in_another_tab_says_so(
    vendor: Person, client: SiteClient, create_listing: Callable[..., dict[str, Any]]
) -> None:
    listing = create_listing(vendor, title="Gone meanwhile")
    sell_form = vendor.client.csrf_token("/sell")
    assert vendor.client.delete(f"/api/v1/listings/{listing['id']}").status_code == 204

    response = vendor.client.post(f"/listings/{listing['id']}/pause", data={"csrf_token": sell_form})

    assert response.status_code == 404
    assert "There is no such listing." in response.text
    assert "My listings" in response.text
    assert_api_error(client.get(f"/api/v1/listings/{listing['id']}"), 404, "not_found")
