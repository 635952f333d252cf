"""The examples of the text policy (``marketplace.text``): each refused with 422 naming the field, or
stored as valid, visible, NFC text; on pages and in the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.accounts.models import Role, User
from marketplace.text import TextKind, clean_line, json_schema_pattern, require_visible, secret_text, valid_text
from tests.listings.conftest import listing_body
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import DEFAULT_PASSWORD, Person

_LISTING_FORM = {"title": "Lamp", "description": "Bright.", "price": "1", "stock": "1", "category": "other"}


def _json(client: SiteClient, method: str, path: str, body: dict[str, Any]) -> Any:
    """Send ``body`` as a JSON library does: a lone surrogate as its ``\\ud800`` escape."""
    return client.request(method, path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


@pytest.fixture
def vendor(sign_up: Callable[..., Person]) -> Person:
    return sign_up(Role.VENDOR)


@pytest.fixture
def admin(make_user: Callable[..., User], sign_in_as: Callable[[User], Person]) -> Person:
    return sign_in_as(make_user(Role.ADMIN))


@pytest.mark.parametrize("reason", ["r\ud800", "r\x00", "\u200b", "ok \u202e", "\ufeffspam"])
def test_a_moderation_reason_that_is_not_valid_visible_text_is_refused_naming_it(
    admin: Person, make_user: Callable[..., User], make_listing: Callable[..., Any], reason: str
) -> None:
    target = make_user(Role.BUYER)
    listing = make_listing()
    for path in (f"/api/v1/admin/users/{target.id}/suspend", f"/api/v1/admin/listings/{listing.id}/hide"):
        assert_api_error(_json(admin.client, "POST", path, {"reason": reason}), 422, "invalid", field="reason")
    assert admin.client.get("/api/v1/admin/actions").json()["total"] == 0
    if "\ud800" not in reason:  # a browser cannot send half a surrogate pair
        page = admin.client.submit("/admin/users", f"/admin/users/{target.id}/suspend", {"reason": reason})
        assert page.status_code == 422
        assert admin.client.get("/api/v1/admin/actions").json()["total"] == 0


def test_a_reason_with_line_breaks_and_other_scripts_is_kept_in_nfc(
    admin: Person, make_user: Callable[..., User]
) -> None:
    target = make_user(Role.BUYER)
    reason = "Spam in Arabic: \u0645\u0631\u062d\u0628\u0627\nand Cafe\u0301 \U0001f600"
    response = _json(admin.client, "POST", f"/api/v1/admin/users/{target.id}/suspend", {"reason": reason})
    assert response.status_code == 200, response.text
    stored = admin.client.get("/api/v1/admin/actions").json()["items"][0]["reason"]
    assert stored == unicodedata.normalize("NFC", reason)
    assert "Café" in stored


@pytest.mark.parametrize(
    "title",
    ["\u200b", "\u200d", "\u3164", " \u2800 ", "Lamp\u202e", "Lamp\u2066", "Lamp\ufeff", "La\x00mp", "La\ud800mp"],
)
def test_a_title_that_shows_nothing_or_misleads_is_refused_naming_it(vendor: Person, title: str) -> None:
    assert_api_error(
        _json(vendor.client, "POST", "/api/v1/listings", listing_body(title=title)), 422, "invalid", field="title"
    )
    if "\ud800" not in title:  # a browser cannot send half a surrogate pair
        page = vendor.client.submit("/sell/new", "/sell/new", {**_LISTING_FORM, "title": title})
        assert page.status_code == 422
        assert 'id="title-error"' in page.text
    assert vendor.client.get("/api/v1/listings").json()["total"] == 0


@pytest.mark.parametrize("description", ["\u200b\n\u200b", "text\u202eevil", "\x0c", "ok\ud800"])
def test_a_description_that_shows_nothing_or_misleads_is_refused_naming_it(vendor: Person, description: str) -> None:
    response = _json(vendor.client, "POST", "/api/v1/listings", listing_body(description=description))
    assert_api_error(response, 422, "invalid", field="description")


def test_accepted_text_is_stored_in_nfc_with_the_invisible_characters_scripts_need(vendor: Person) -> None:
    title = "Cafe\u0301 \U0001f468\u200d\U0001f469\u200d\U0001f467 \u2764\ufe0f"
    description = "Line one\r\n\u0e20\u0e32\u0e29\u0e32\u200b\u0e44\u0e17\u0e22\tsoft\u00adhyphen"
    response = vendor.client.post("/api/v1/listings", json=listing_body(title=title, description=description))
    assert response.status_code == 201, response.text
    assert response.json()["title"] == unicodedata.normalize("NFC", title)
    assert response.json()["title"].startswith("Café")
    assert response.json()["description"] == description


@pytest.mark.parametrize("name", ["\u200b", "laptop\u202e", "lap\ttop", "\ud800"])
def test_a_token_name_that_is_not_visible_one_line_text_is_refused(vendor: Person, name: str) -> None:
    body = {"username": vendor.username, "password": "whatever-it-is", "name": name}
    assert_api_error(_json(vendor.client, "POST", "/api/v1/tokens", body), 422, "invalid", field="name")
    if "\ud800" not in name:
        page = vendor.client.submit("/account/tokens", "/account/tokens", {"name": name})
        assert page.status_code == 422


def test_a_pgp_key_is_ascii(vendor: Person) -> None:
    key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF\u200b\n=AbCd\n-----END PGP PUBLIC KEY BLOCK-----"
    response = vendor.client.put("/api/v1/me/pgp-key", json={"pgp_key": key, "password": DEFAULT_PASSWORD})
    assert_api_error(response, 422, "invalid", field="pgp_key", message="U+200B ZERO WIDTH SPACE")


@pytest.mark.parametrize("raw", [b"%C0%80", b"%ED%A0%80", b"%FF"], ids=["overlong", "surrogate", "stray byte"])
def test_page_form_bytes_that_are_not_utf8_are_refused_naming_the_field(
    vendor: Person, admin: Person, raw: bytes
) -> None:
    # A page form is decoded with U+FFFD where its bytes are not UTF-8: the text that was meant is
    # lost, so the field is refused, as the API refuses the same input in JSON.
    form = {"content-type": "application/x-www-form-urlencoded"}
    token = vendor.client.csrf_token("/sell/new")
    body = f"csrf_token={token}&description=Bright.&price=1&stock=1&category=other&title=Lamp".encode() + raw
    refused = vendor.client.post("/sell/new", content=body, headers=form)
    assert refused.status_code == 422
    assert "U+FFFD" in refused.text
    assert vendor.client.get("/api/v1/listings").json()["total"] == 0

    listing = vendor.client.post("/api/v1/listings", json=listing_body()).json()["id"]
    token = admin.client.csrf_token("/admin/listings")
    body = f"csrf_token={token}&reason=spam".encode() + raw
    refused = admin.client.post(f"/admin/listings/{listing}/hide", content=body, headers=form)
    assert refused.status_code == 422
    assert "U+FFFD" in refused.text
    assert admin.client.get("/api/v1/admin/actions").json()["total"] == 0


def test_a_search_term_is_cleaned_never_refused(vendor: Person, client: SiteClient) -> None:
    vendor.client.post("/api/v1/listings", json=listing_body(title="Brass lamp"))
    for term in ("bra\x00ss", "brass\u200b", "\u202ebrass", "brass\ud800"):
        response = client.get("/api/v1/listings", params={"q": term.encode("utf-8", "surrogatepass")})
        assert response.status_code == 200, (term, response.text)
    assert client.get("/api/v1/listings", params={"q": "brass\u200b"}).json()["total"] == 1
    assert client.get("/", params={"q": "\x00lamp"}).status_code == 200


def test_a_password_is_checked_not_normalised_at_registration_and_sign_in_alike(client: SiteClient) -> None:
    decomposed = "Cafe\u0301-Harbour-Lantern-42"  # as some keyboards type é
    created = client.post("/api/v1/accounts", json={"username": "nfd-user", "password": decomposed, "role": "buyer"})
    assert created.status_code == 201, created.text
    assert client.post("/api/v1/tokens", json={"username": "nfd-user", "password": decomposed}).status_code == 201
    composed = unicodedata.normalize("NFC", decomposed)
    assert_api_error(
        client.post("/api/v1/tokens", json={"username": "nfd-user", "password": composed}), 401, "not_authenticated"
    )
    for bad in ("Quiet-Harbour\x00-42", "Quiet-Harbour\n-Lantern", "Quiet-Harbour-\ud800-42"):
        body = {"username": "other-user", "password": bad, "role": "buyer"}
        assert_api_error(_json(client, "POST", "/api/v1/accounts", body), 422, "invalid", field="password")
        wrong = _json(client, "POST", "/api/v1/tokens", {"username": "nfd-user", "password": bad})
        assert wrong.status_code in (401, 422), wrong.text


# --- the policy itself ------------------------------------------------------------------------

_ANY_TEXT = st.text(
    st.one_of(
        st.sampled_from(list("\x00\ud800\u200b\u200d\u202e\ufeff\u3164\u2800\t\n \u0301\U000e0041")),
        st.characters(exclude_categories=()),
    ),
    max_size=30,
)
_EXAMPLES = settings(max_examples=300, deadline=None, derandomize=True)


@pytest.mark.parametrize("kind", list(TextKind))
def test_the_documented_pattern_is_the_policy(kind: TextKind) -> None:
    pattern = re.compile(json_schema_pattern(kind))

    @_EXAMPLES
    @given(_ANY_TEXT)
    def agree(text: str) -> None:
        try:
            require_visible(valid_text(text, kind, field="f", label="f"), kind, field="f", label="f")
        except Exception:  # noqa: BLE001  (refused: the pattern must refuse it too)
            accepted = False
        else:
            accepted = True
        # The pattern reads the text before NFC, which changes no refused or visible character.
        assert (pattern.search(text) is not None) is accepted, ascii(text)

    agree()


def test_clean_line_gives_text_a_line_field_accepts() -> None:
    @_EXAMPLES
    @given(_ANY_TEXT)
    def clean(text: str) -> None:
        cleaned = clean_line(text)
        assert valid_text(cleaned, TextKind.LINE, field="q", label="search") == cleaned

    clean()


def test_a_secret_is_never_changed() -> None:
    for password in ("Cafe\u0301-secret-1", "\uff21\uff22\uff23-fullwidth", " spaced out "):
        assert secret_text(password, field="password", label="password") == password


def test_the_document_states_the_policy(app: FastAPI) -> None:
    schemas: dict[str, Any] = app.openapi()["components"]["schemas"]
    assert schemas["ListingCreate"]["properties"]["title"]["pattern"] == json_schema_pattern(TextKind.LINE)
    assert schemas["ListingCreate"]["properties"]["description"]["pattern"] == json_schema_pattern(TextKind.MULTILINE)
    assert schemas["ReasonIn"]["properties"]["reason"]["pattern"] == json_schema_pattern(TextKind.MULTILINE)
    assert schemas["TokenCreate"]["properties"]["name"]["pattern"] == json_schema_pattern(TextKind.LINE)
