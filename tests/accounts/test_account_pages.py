"""The account pages: password change, sign-ins, API tokens and closing the account."""

from __future__ import annotations

import re
from collections.abc import Callable

from marketplace.accounts.models import Role, User
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import DEFAULT_PASSWORD

NEW_PASSWORD = "another-long-passphrase"
_REVOKE_SESSION = re.compile(r'action="/account/sessions/(\d+)/revoke"')
_REVOKE_TOKEN = re.compile(r'action="/account/tokens/(\d+)/revoke"')
_NEW_TOKEN = re.compile(r'<code class="secret" id="new-token">([^<]+)</code>')


def test_the_overview_links_every_account_page(client: SiteClient, signed_in: Callable[..., User]) -> None:
    user = signed_in()
    page = client.get("/account")
    assert page.status_code == 200
    assert user.username in page.text
    for path in ("/account/password", "/account/two-factor", "/account/sessions", "/account/tokens", "/account/delete"):
        assert f'href="{path}"' in page.text
        assert client.get(path).status_code == 200
    assert "Payout address" not in page.text  # buyers have none


def test_changing_the_password_signs_out_everywhere_else(
    client: SiteClient, signed_in: Callable[..., User], make_client: Callable[[], SiteClient]
) -> None:
    user = signed_in()
    elsewhere = make_client()
    elsewhere.sign_in(user.username, DEFAULT_PASSWORD)
    api = make_client()
    api.use_token(api.api_token(user.username, DEFAULT_PASSWORD))
    wrong = client.submit(
        "/account/password", "/account/password", {"current_password": "nope-nope-nope", "new_password": NEW_PASSWORD}
    )
    assert wrong.status_code == 422
    assert "This is not your current password." in wrong.text
    weak = client.submit(
        "/account/password", "/account/password", {"current_password": DEFAULT_PASSWORD, "new_password": "short"}
    )
    assert weak.status_code == 422
    assert "at least 10 characters" in weak.text
    same = client.submit(
        "/account/password",
        "/account/password",
        {"current_password": DEFAULT_PASSWORD, "new_password": DEFAULT_PASSWORD},
    )
    assert same.status_code == 422
    assert elsewhere.get("/account").status_code == 200  # nothing changed yet
    done = client.submit(
        "/account/password", "/account/password", {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 303
    assert "Every other sign-in and every API token was revoked." in client.get(done.headers["location"]).text
    assert client.get("/account").status_code == 200  # this browser stays signed in (with a new session id)
    assert elsewhere.get("/account").status_code == 303
    assert_api_error(api.get("/api/v1/me"), 401, "not_authenticated")
    old_password = client.post("/api/v1/tokens", json={"username": user.username, "password": DEFAULT_PASSWORD})
    assert_api_error(old_password, 401, "not_authenticated")
    assert client.post("/api/v1/tokens", json={"username": user.username, "password": NEW_PASSWORD}).status_code == 201


def test_sign_ins_are_listed_and_any_can_be_revoked(
    client: SiteClient,
    signed_in: Callable[..., User],
    make_user: Callable[..., User],
    make_client: Callable[[], SiteClient],
) -> None:
    user = signed_in()
    phone = make_client()
    phone.headers["User-Agent"] = "<b>PhoneBrowser</b>/1.0"
    phone.sign_in(user.username, DEFAULT_PASSWORD)
    page = client.get("/account/sessions")
    assert page.status_code == 200
    assert page.text.count("this session") == 1
    assert "&lt;b&gt;PhoneBrowser&lt;/b&gt;/1.0" in page.text
    assert "testclient" in page.text
    ids = _REVOKE_SESSION.findall(page.text)
    assert len(ids) == 2
    # The phone's sign-in is the newer one, listed first.
    revoked = client.submit("/account/sessions", f"/account/sessions/{ids[0]}/revoke", {})
    assert revoked.status_code == 303
    assert "That sign-in is revoked." in client.get(revoked.headers["location"]).text
    assert phone.get("/account").status_code == 303
    assert client.get("/account").status_code == 200
    assert len(_REVOKE_SESSION.findall(client.get("/account/sessions").text)) == 1
    # Revoking it again, or someone else's, is "not found" and changes nothing.
    assert client.submit("/account/sessions", f"/account/sessions/{ids[0]}/revoke", {}).status_code == 404
    other = make_client()
    other.sign_in(make_user().username, DEFAULT_PASSWORD)
    assert other.submit("/account", f"/account/sessions/{ids[1]}/revoke", {}).status_code == 404
    assert client.get("/account").status_code == 200
    # Revoking this sign-in signs this browser out.
    this = client.submit("/account/sessions", f"/account/sessions/{ids[1]}/revoke", {})
    assert this.headers["location"] == "/login?notice=signed-out"
    assert client.get("/account").status_code == 303


def test_api_tokens_are_created_once_listed_and_revoked_on_the_page(
    client: SiteClient,
    signed_in: Callable[..., User],
    make_user: Callable[..., User],
    make_client: Callable[[], SiteClient],
) -> None:
    user = signed_in(Role.VENDOR)
    assert "You have no API tokens." in client.get("/account/tokens").text
    empty = client.submit("/account/tokens", "/account/tokens", {"name": "   ", "password": DEFAULT_PASSWORD})
    assert empty.status_code == 422
    assert "Give the token a name" in empty.text
    control = client.submit("/account/tokens", "/account/tokens", {"name": "bad\x00name", "password": DEFAULT_PASSWORD})
    assert control.status_code == 422
    assert "U+0000 (a control character)" in control.text
    created = client.submit(
        "/account/tokens", "/account/tokens", {"name": "<i>shop script</i>", "password": DEFAULT_PASSWORD}
    )
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    match = _NEW_TOKEN.search(created.text)
    assert match
    token = match.group(1)
    assert "&lt;i&gt;shop script&lt;/i&gt;" in created.text
    listing = client.get("/account/tokens")
    assert token not in listing.text  # shown once only
    assert "&lt;i&gt;shop script&lt;/i&gt;" in listing.text
    api = make_client()
    api.use_token(token)
    assert api.get("/api/v1/me").json()["username"] == user.username
    (token_id,) = _REVOKE_TOKEN.findall(listing.text)
    other = make_client()
    other.sign_in(make_user().username, DEFAULT_PASSWORD)
    assert other.submit("/account/tokens", f"/account/tokens/{token_id}/revoke", {}).status_code == 404
    assert api.get("/api/v1/me").status_code == 200
    revoked = client.submit("/account/tokens", f"/account/tokens/{token_id}/revoke", {})
    assert revoked.status_code == 303
    assert "That API token is revoked." in client.get(revoked.headers["location"]).text
    assert_api_error(api.get("/api/v1/me"), 401, "not_authenticated")
    assert "You have no API tokens." in client.get("/account/tokens").text


def test_tokens_made_through_the_api_show_on_the_page_and_can_be_revoked_there(
    client: SiteClient, signed_in: Callable[..., User], make_client: Callable[[], SiteClient]
) -> None:
    user = signed_in()
    api = make_client()
    response = api.post(
        "/api/v1/tokens", json={"username": user.username, "password": DEFAULT_PASSWORD, "name": "backup bot"}
    )
    assert response.status_code == 201
    api.use_token(response.json()["token"])
    page = client.get("/account/tokens")
    assert "backup bot" in page.text
    (token_id,) = _REVOKE_TOKEN.findall(page.text)
    client.submit("/account/tokens", f"/account/tokens/{token_id}/revoke", {})
    assert_api_error(api.get("/api/v1/me"), 401, "not_authenticated")


def test_closing_the_account_needs_the_password_and_the_typed_username(
    client: SiteClient, signed_in: Callable[..., User], make_client: Callable[[], SiteClient]
) -> None:
    user = signed_in(Role.VENDOR)
    api = make_client()
    api.use_token(api.api_token(user.username, DEFAULT_PASSWORD))
    wrong_password = client.submit(
        "/account/delete", "/account/delete", {"password": "not-the-password", "confirm_username": user.username}
    )
    assert wrong_password.status_code == 422
    assert "This is not your current password." in wrong_password.text
    wrong_name = client.submit(
        "/account/delete", "/account/delete", {"password": DEFAULT_PASSWORD, "confirm_username": "someone-else"}
    )
    assert wrong_name.status_code == 422
    assert "Type your username exactly" in wrong_name.text
    assert 'value="someone-else"' in wrong_name.text
    assert api.get("/api/v1/me").status_code == 200  # still open
    closed = client.submit(
        "/account/delete", "/account/delete", {"password": DEFAULT_PASSWORD, "confirm_username": user.username}
    )
    assert closed.status_code == 303
    assert "Your account is closed." in client.get(closed.headers["location"]).text
    assert client.get("/account").status_code == 303
    assert_api_error(api.get("/api/v1/me"), 401, "not_authenticated")
    login = client.submit("/login", "/login", {"username": user.username, "password": DEFAULT_PASSWORD})
    assert login.status_code == 401
    assert "Wrong username or password." in login.text
    reuse = client.post(
        "/api/v1/accounts", json={"username": user.username.upper(), "password": DEFAULT_PASSWORD, "role": "vendor"}
    )
    assert_api_error(reuse, 409, "conflict", field="username")


def test_a_closed_vendors_listings_disappear(
    client: SiteClient, signed_in: Callable[..., User], make_client: Callable[[], SiteClient]
) -> None:
    vendor = signed_in(Role.VENDOR)
    api = make_client()
    api.use_token(api.api_token(vendor.username, DEFAULT_PASSWORD))
    listing = {"title": "Hand-made mug", "description": "Blue.", "price_atomic": 10**12, "stock": 3, "category": "home"}
    created = api.post("/api/v1/listings", json=listing)
    assert created.status_code == 201, created.text
    path = f"/api/v1/listings/{created.json()['id']}"
    visitor = make_client()
    assert visitor.get(path).status_code == 200
    client.submit(
        "/account/delete", "/account/delete", {"password": DEFAULT_PASSWORD, "confirm_username": vendor.username}
    )
    assert_api_error(visitor.get(path), 404, "not_found")
    assert "Hand-made mug" not in visitor.get("/api/v1/listings").text
