"""Registering as a buyer or vendor, on the page and through the API, and every way it is refused."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from marketplace.accounts.models import User
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import DEFAULT_PASSWORD

_names = itertools.count()
HYPOTHESIS = hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _register(client: SiteClient, username: str, password: str = DEFAULT_PASSWORD, role: str = "buyer") -> Any:
    return client.post("/api/v1/accounts", json={"username": username, "password": password, "role": role})


@pytest.mark.parametrize("role", ["buyer", "vendor"])
def test_api_registration_creates_an_account_that_can_sign_in(client: SiteClient, role: str) -> None:
    response = client.post("/api/v1/accounts", json={"username": "Alice_1", "password": DEFAULT_PASSWORD, "role": role})
    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "username": "Alice_1", "role": role}
    assert isinstance(body["id"], int)
    client.use_token(client.api_token("alice_1", DEFAULT_PASSWORD))
    assert client.get("/api/v1/me").json()["username"] == "Alice_1"


def test_page_registration_signs_the_new_vendor_in(client: SiteClient) -> None:
    form = client.get("/register")
    assert form.status_code == 200
    assert 'value="buyer"' in form.text
    assert 'value="vendor"' in form.text
    assert 'value="admin"' not in form.text
    assert 'value="arbiter"' not in form.text
    response = client.submit(
        "/register", "/register", {"username": "shopkeeper", "password": DEFAULT_PASSWORD, "role": "vendor"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account?notice=welcome"
    account = client.get(response.headers["location"])
    assert account.status_code == 200
    assert "shopkeeper" in account.text
    assert "Payout address" in account.text
    assert "Welcome" in account.text


@pytest.mark.parametrize("variant", ["ALICE", "alice", "Alice", "aLiCe"])
def test_a_username_is_taken_in_any_case(client: SiteClient, make_user: Callable[..., User], variant: str) -> None:
    make_user(username="Alice")
    assert_api_error(_register(client, variant), 409, "conflict", field="username")
    page = client.submit("/register", "/register", {"username": variant, "password": DEFAULT_PASSWORD, "role": "buyer"})
    assert page.status_code == 409
    assert "This username is taken" in page.text
    assert f'value="{variant}"' in page.text
    assert DEFAULT_PASSWORD not in page.text


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1", "at least 10 characters"),
        ("password123", "too common"),
        ("aaaaaaaaaaaa", "too common or too simple"),
        ("xx-newbie-account-xx", "must not contain the username"),
    ],
)
def test_a_weak_password_is_refused_and_nothing_is_created(client: SiteClient, password: str, reason: str) -> None:
    assert_api_error(_register(client, "newbie", password), 422, "invalid", field="password", message=reason)
    page = client.submit("/register", "/register", {"username": "newbie", "password": password, "role": "vendor"})
    assert page.status_code == 422
    assert reason in page.text
    assert 'value="newbie"' in page.text
    assert f'value="{password}"' not in page.text
    # The name is still free: nothing was created.
    assert _register(client, "newbie").status_code == 201


@pytest.mark.parametrize("role", ["admin", "arbiter", "ADMIN", "superuser", ""])
def test_registering_as_admin_or_arbiter_is_refused_and_nothing_is_created(client: SiteClient, role: str) -> None:
    assert_api_error(_register(client, "mallory", role=role), 422, "invalid", field="role")
    page = client.submit("/register", "/register", {"username": "mallory", "password": DEFAULT_PASSWORD, "role": role})
    assert page.status_code == 422
    assert "Choose buyer or vendor" in page.text
    token_answer = client.post("/api/v1/tokens", json={"username": "mallory", "password": DEFAULT_PASSWORD})
    assert_api_error(token_answer, 401, "not_authenticated")
    assert _register(client, "mallory").status_code == 201


@pytest.mark.parametrize("extra", [{"status": "active"}, {"id": 1}, {"is_admin": True}])
def test_registration_refuses_fields_it_does_not_ask_for(client: SiteClient, extra: dict[str, object]) -> None:
    body = {"username": "sneaky", "password": DEFAULT_PASSWORD, "role": "buyer", **extra}
    response = client.post("/api/v1/accounts", json=body)
    assert_api_error(response, 422, "invalid", field=next(iter(extra)))
    assert _register(client, "sneaky").status_code == 201


def test_markup_in_a_username_is_refused_and_shown_escaped(client: SiteClient) -> None:
    name = "<script>alert(1)</script>"
    page = client.submit("/register", "/register", {"username": name, "password": DEFAULT_PASSWORD, "role": "buyer"})
    assert page.status_code == 422
    assert "A username is 3 to 32 characters" in page.text
    assert name not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


@HYPOTHESIS
@given(name=st.from_regex(r"[A-Za-z0-9_.-]{3,24}", fullmatch=True))
def test_any_valid_username_registers_once_in_every_case(client: SiteClient, name: str) -> None:
    username = f"{name}{next(_names)}"
    created = _register(client, username)
    assert created.status_code == 201
    assert created.json()["username"] == username
    assert_api_error(_register(client, username.swapcase()), 409, "conflict", field="username")


@HYPOTHESIS
@given(
    name=st.one_of(
        st.text(max_size=2),
        st.text(min_size=33, max_size=60, alphabet="abc"),
        st.text(min_size=3, max_size=20).filter(
            lambda s: any(not (c.isascii() and (c.isalnum() or c in "_.-")) for c in s.strip())
        ),
    )
)
def test_any_invalid_username_is_refused_naming_the_field(client: SiteClient, name: str) -> None:
    assert_api_error(_register(client, name), 422, "invalid", field="username")


@HYPOTHESIS
@given(password=st.text(max_size=9))
def test_any_short_password_is_refused_naming_the_field(client: SiteClient, password: str) -> None:
    assert_api_error(_register(client, f"short{next(_names)}", password), 422, "invalid", field="password")


def test_the_openapi_document_offers_only_buyer_and_vendor(client: SiteClient) -> None:
    document = client.get("/api/openapi.json").json()
    for path in ("/api/v1/accounts", "/api/v1/tokens", "/api/v1/me", "/api/v1/me/payout-address", "/api/v1/me/pgp-key"):
        assert path in document["paths"]
    role = document["components"]["schemas"]["AccountCreate"]["properties"]["role"]
    assert sorted(role["enum"]) == ["buyer", "vendor"]
