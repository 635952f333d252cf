"""Private answers stay out of caches, and a CSRF token belongs to one sign-in.

Every answer to a signed-in request (session cookie or API token), to a write, or that sets a
cookie is ``Cache-Control: no-store`` (``web/private_caching.py``), checked here on every GET
route of the app; only what declares itself public (a public listing's image, the static files)
keeps its own caching. A CSRF token taken before a sign-in, or under another sign-in, is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from marketplace.accounts.models import Role, User
from marketplace.listings.models import Listing
from tests.listings.conftest import image_bytes, listing_body
from tests.support.client import SiteClient
from tests.support.factories import DEFAULT_PASSWORD, Person


def _get_routes(app: FastAPI) -> list[str]:
    return [
        context.path
        for context in iter_route_contexts(app.routes)
        if isinstance(context.route, APIRoute) and "GET" in context.route.methods
    ]


def _concrete(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda match: ids.get(match.group(1), "1"), path)


def test_every_answer_to_a_signed_in_request_is_no_store(
    app: FastAPI,
    make_user: Callable[..., User],
    sign_in_as: Callable[[User], Person],
    make_listing: Callable[..., Listing],
) -> None:
    vendor = sign_in_as(make_user(Role.VENDOR))
    admin = sign_in_as(make_user(Role.ADMIN))
    listing = make_listing(vendor=vendor.user)
    routes = _get_routes(app)
    assert {"/account", "/account/tokens", "/admin", "/admin/users", "/sell", "/api/v1/me", "/"} <= set(routes)
    ids = {"listing_id": str(listing.id), "username": vendor.username}
    wrong = {}
    for person in (vendor, admin):
        for path in routes:
            url = _concrete(path, ids)
            # Signed in by cookie (pages) and by token (API): the client sends both, as a script may.
            answer = person.client.get(url, follow_redirects=False)
            if answer.headers.get("cache-control") != "no-store":
                wrong[f"{person.user.role} GET {url} ({answer.status_code})"] = answer.headers.get("cache-control")
    assert wrong == {}


def test_only_public_images_and_static_files_stay_cacheable_for_a_signed_in_visitor(
    sign_up: Callable[..., Person],
) -> None:
    vendor, other_vendor = sign_up(Role.VENDOR), sign_up(Role.VENDOR)
    listing = vendor.client.post("/api/v1/listings", json=listing_body()).json()
    upload = vendor.client.post(
        f"/api/v1/listings/{listing['id']}/images", files={"file": ("a.png", image_bytes(), "image/png")}
    )
    image = upload.json()["id"]
    assert other_vendor.client.get(f"/images/{image}").headers["cache-control"].startswith("public")
    assert other_vendor.client.get("/static/style.css").headers["cache-control"] == "public, no-cache"
    vendor.client.patch(f"/api/v1/listings/{listing['id']}", json={"status": "paused"})
    assert vendor.client.get(f"/images/{image}").headers["cache-control"] == "no-store"  # now private


def test_answers_carrying_a_token_or_a_new_cookie_are_no_store(
    client: SiteClient, make_user: Callable[..., User]
) -> None:
    user = make_user(Role.BUYER)
    issued = client.post("/api/v1/tokens", json={"username": user.username, "password": DEFAULT_PASSWORD})
    assert issued.status_code == 201
    assert issued.headers["cache-control"] == "no-store"
    first_visit = client.get("/login")  # sets the CSRF cookie
    assert first_visit.headers["cache-control"] == "no-store"
    signed_in = client.sign_in(user.username, DEFAULT_PASSWORD)
    assert signed_in.headers["cache-control"] == "no-store"


def test_an_anonymous_public_page_is_left_to_the_caches(client: SiteClient) -> None:
    client.get("/login")  # the CSRF cookie is set: later pages set none
    assert "no-store" not in client.get("/").headers.get("cache-control", "")


def test_a_csrf_token_from_before_sign_in_is_refused_after_it(
    client: SiteClient, make_user: Callable[..., User]
) -> None:
    user = make_user(Role.BUYER)
    before = client.csrf_token("/login")
    old_csrf_cookie = client.cookies["mp_csrf"]
    client.sign_in(user.username, DEFAULT_PASSWORD)
    assert client.cookies["mp_csrf"] != old_csrf_cookie  # a new CSRF cookie at sign-in
    old = {"csrf_token": before, "name": "old", "password": DEFAULT_PASSWORD}
    assert client.post("/account/tokens", data=old).status_code == 403
    fresh = {"csrf_token": client.csrf_token("/account/tokens"), "name": "new", "password": DEFAULT_PASSWORD}
    assert client.post("/account/tokens", data=fresh).status_code == 200


def test_a_csrf_token_from_another_sign_in_is_refused(
    client: SiteClient, make_client: Callable[[], SiteClient], make_user: Callable[..., User]
) -> None:
    first, second = make_user(Role.BUYER), make_user(Role.BUYER)
    client.sign_in(first.username, DEFAULT_PASSWORD)
    token = client.csrf_token("/account/tokens")
    # Another browser holding the very same CSRF cookie, signed in as someone else.
    other = make_client()
    other.sign_in(second.username, DEFAULT_PASSWORD)
    other.cookies.set("mp_csrf", client.cookies["mp_csrf"])
    assert other.post("/account/tokens", data={"csrf_token": token, "name": "stolen"}).status_code == 403
    # The same browser after signing out and in again as someone else.
    client.post("/logout", data={"csrf_token": token})
    client.sign_in(second.username, DEFAULT_PASSWORD)
    assert client.post("/account/tokens", data={"csrf_token": token, "name": "stale"}).status_code == 403
