"""Names that could pass for the site are reserved at self-registration, on the page and in the API.

Existing accounts keep their names, and an administrator may give a reserved name to a staff
account (``accounts/usernames.py`` says why).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from marketplace.accounts.models import Role, User
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import DEFAULT_PASSWORD, Person

PASSWORD = "Quiet-Harbour-Lantern-42"
RESERVED = [
    "admin",
    "ADMIN",
    "Admin",
    "ad.min",
    "_root_",
    "support",
    "Support-",
    "arbiter",
    "moderator",
    "system",
    "marketplace",
    "Market.Place",
    "...",
    "-_-",
    "___",
]


@pytest.mark.parametrize("username", RESERVED)
def test_a_reserved_username_is_refused_at_registration(client: SiteClient, username: str) -> None:
    response = client.post("/api/v1/accounts", json={"username": username, "password": PASSWORD, "role": "buyer"})
    assert_api_error(response, 422, "invalid", field="username", message="reserved")
    page = client.submit("/register", "/register", {"username": username, "password": PASSWORD, "role": "vendor"})
    assert page.status_code == 422
    assert "reserved" in page.text
    assert "mp_session" not in page.headers.get("set-cookie", "")


@pytest.mark.parametrize("username", ["admins", "rootbeer", "supporter", "a.b", "mod-x", "system32"])
def test_a_name_that_only_contains_a_reserved_word_is_free(client: SiteClient, username: str) -> None:
    response = client.post("/api/v1/accounts", json={"username": username, "password": PASSWORD, "role": "buyer"})
    assert response.status_code == 201, response.text


def test_an_existing_account_with_a_reserved_name_still_signs_in(
    client: SiteClient, make_user: Callable[..., User]
) -> None:
    make_user(Role.BUYER, username="support")
    assert client.post("/api/v1/tokens", json={"username": "support", "password": DEFAULT_PASSWORD}).status_code == 201


def test_an_admin_may_give_a_staff_account_a_reserved_name(
    make_user: Callable[..., User], sign_in_as: Callable[[User], Person]
) -> None:
    admin = sign_in_as(make_user(Role.ADMIN))
    body = {"username": "Support", "password": PASSWORD, "role": "arbiter"}
    created = admin.client.post("/api/v1/admin/users", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["username"] == "Support"
