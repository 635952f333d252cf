"""Fixtures for the accounts tests.

``settings`` is the suite's production settings with the sign-in throttle limits taken from
``throttle_limits``; most tests keep generous limits (hypothesis examples share one database, so
their failed sign-ins add up), the throttling tests override that fixture with small ones.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pyotp
import pytest

from marketplace.accounts.models import Role, User
from tests.support.client import SiteClient
from tests.support.factories import DEFAULT_PASSWORD

_SECRET_ON_PAGE = re.compile(r'<code class="secret">([A-Z2-7 ]+)</code>')
_CODES_ON_PAGE = re.compile(r"<li>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</li>")


@pytest.fixture
def throttle_limits() -> dict[str, Any]:
    return {
        "login_max_failures_per_account": 1000,
        "login_max_failures_per_account_address": 1000,
        "login_max_failures_per_address": 1000,
        "registration_max_per_address": 1000,
    }


@pytest.fixture
def settings_overrides(throttle_limits: dict[str, Any]) -> dict[str, Any]:
    return throttle_limits


@pytest.fixture
def signed_in(make_user: Callable[..., User], client: SiteClient) -> Callable[..., User]:
    """Create an account of ``role`` and sign ``client`` in as it."""

    def sign_in(role: Role | str = Role.BUYER, username: str | None = None) -> User:
        user = make_user(role=role, username=username)
        client.sign_in(user.username, DEFAULT_PASSWORD)
        return user

    return sign_in


def code_at(secret: str, steps_ahead: int = 0) -> str:
    """The authenticator app's code ``steps_ahead`` 30-second steps from now."""
    return str(pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead))


def turn_on_two_factor(client: SiteClient, password: str = DEFAULT_PASSWORD) -> tuple[str, list[str]]:
    """Enrol and confirm two-factor on the pages, as a person would; returns (secret, recovery codes)."""
    response = client.submit("/account/two-factor", "/account/two-factor", {"action": "enrol"})
    assert response.status_code == 303
    page = client.get("/account/two-factor")
    match = _SECRET_ON_PAGE.search(page.text)
    assert match, page.text
    secret = match.group(1).replace(" ", "")
    confirmed = client.submit(
        "/account/two-factor",
        "/account/two-factor",
        {"action": "verify", "totp_code": code_at(secret), "password": password},
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = _CODES_ON_PAGE.findall(confirmed.text)
    assert len(codes) == 10
    return secret, codes
