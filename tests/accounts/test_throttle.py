"""Sign-in throttling per account and per client address, shared by the pages and the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from marketplace.accounts.models import LoginFailure, User
from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import DEFAULT_PASSWORD

ACCOUNT_LIMIT = 3
ADDRESS_LIMIT = 5
WINDOW = 600


@pytest.fixture
def throttle_limits() -> dict[str, Any]:
    # One proxy hop is trusted so that a test can speak from several client addresses. The account's
    # ceiling is the smallest limit here, so these tests see it first (tests/accounts/test_throttle_attempts.py
    # tests the production limits, where one username at one address is throttled long before).
    return {
        "login_max_failures_per_account": ACCOUNT_LIMIT,
        "login_max_failures_per_account_address": ACCOUNT_LIMIT,
        "login_max_failures_per_address": ADDRESS_LIMIT,
        "login_failure_window_seconds": WINDOW,
        "trusted_proxy_hops": 1,
    }


def _token(client: SiteClient, username: str, password: str, address: str) -> Any:
    return client.post(
        "/api/v1/tokens", json={"username": username, "password": password}, headers={"X-Forwarded-For": address}
    )


def _assert_retry_after(response: Any) -> None:
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= WINDOW


def _assert_throttled(page: Any) -> None:
    """A sign-in form refused by the throttle (an HTML page)."""
    assert page.status_code == 429
    _assert_retry_after(page)


def _assert_api_throttled(response: Any) -> dict[str, Any]:
    """A token request refused by the throttle (the API error); returns its body."""
    body = assert_api_error(response, 429, "rate_limited", message="Too many failed sign-ins")
    _assert_retry_after(response)
    return body


def test_an_account_is_throttled_after_its_failures_even_with_the_right_password(
    client: SiteClient, make_user: Callable[..., User]
) -> None:
    user = make_user()
    for attempt in range(ACCOUNT_LIMIT):
        assert_api_error(_token(client, user.username, "wrong-password", f"10.0.0.{attempt}"), 401, "not_authenticated")
    _assert_api_throttled(_token(client, user.username, DEFAULT_PASSWORD, "10.0.1.1"))
    page = client.submit("/login", "/login", {"username": user.username.upper(), "password": DEFAULT_PASSWORD})
    _assert_throttled(page)
    assert "Too many failed sign-ins" in page.text
    assert "mp_session" not in page.headers.get("set-cookie", "")


def test_other_accounts_are_not_throttled_by_one_accounts_failures(
    client: SiteClient, make_user: Callable[..., User]
) -> None:
    victim = make_user()
    other = make_user()
    for _ in range(ACCOUNT_LIMIT):
        _token(client, victim.username, "wrong-password", "10.0.0.1")
    assert _token(client, other.username, DEFAULT_PASSWORD, "10.0.0.1").status_code == 201


def test_an_unknown_username_is_throttled_exactly_like_a_known_one(
    client: SiteClient, make_user: Callable[..., User]
) -> None:
    known = make_user()
    answers = {}
    for username in (known.username, "no-such-user"):
        for attempt in range(ACCOUNT_LIMIT):
            assert_api_error(_token(client, username, "wrong-password", f"10.1.{attempt}.1"), 401, "not_authenticated")
        answers[username] = _assert_api_throttled(_token(client, username, "wrong-password", "10.2.0.1"))
    assert answers[known.username] == answers["no-such-user"]


def test_an_address_is_throttled_after_failures_on_any_usernames(
    client: SiteClient, make_user: Callable[..., User]
) -> None:
    user = make_user()
    for attempt in range(ADDRESS_LIMIT):
        assert_api_error(_token(client, f"guess{attempt}", "wrong-password", "203.0.113.9"), 401, "not_authenticated")
    _assert_api_throttled(_token(client, user.username, DEFAULT_PASSWORD, "203.0.113.9"))
    page = client.post(
        "/login",
        data={"csrf_token": client.csrf_token(), "username": user.username, "password": DEFAULT_PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    _assert_throttled(page)
    # The same account from another address is fine: the address, not the account, is throttled.
    assert _token(client, user.username, DEFAULT_PASSWORD, "198.51.100.7").status_code == 201


def test_a_throttle_lifts_when_the_failures_leave_the_window(
    client: SiteClient, make_user: Callable[..., User], database: Database
) -> None:
    user = make_user()
    for _ in range(ACCOUNT_LIMIT):
        _token(client, user.username, "wrong-password", "10.0.0.1")
    _assert_api_throttled(_token(client, user.username, DEFAULT_PASSWORD, "10.0.0.1"))
    with database.session() as session:
        session.execute(update(LoginFailure).values(created_at=utcnow() - timedelta(seconds=WINDOW + 1)))
    assert _token(client, user.username, DEFAULT_PASSWORD, "10.0.0.1").status_code == 201


def test_failed_page_sign_ins_count_too(client: SiteClient, make_user: Callable[..., User]) -> None:
    user = make_user()
    for _ in range(ACCOUNT_LIMIT):
        page = client.submit("/login", "/login", {"username": user.username, "password": "wrong-password"})
        assert page.status_code == 401
    _assert_api_throttled(_token(client, user.username, DEFAULT_PASSWORD, "10.9.9.9"))


def test_wrong_current_passwords_on_account_pages_are_throttled(
    client: SiteClient, make_user: Callable[..., User], database: Database
) -> None:
    user = make_user()
    client.sign_in(user.username, DEFAULT_PASSWORD)
    for _ in range(ACCOUNT_LIMIT):
        page = client.submit(
            "/account/password",
            "/account/password",
            {"current_password": "wrong-password", "new_password": "a-brand-new-passphrase"},
        )
        assert page.status_code == 422
        assert "not your current password" in page.text
    page = client.submit(
        "/account/password",
        "/account/password",
        {"current_password": DEFAULT_PASSWORD, "new_password": "a-brand-new-passphrase"},
    )
    _assert_throttled(page)
    assert client.get("/account").status_code == 200
    # Once the window has passed: the old password still works, the new one was never set.
    with database.session() as session:
        session.execute(update(LoginFailure).values(created_at=utcnow() - timedelta(seconds=WINDOW + 1)))
    assert_api_error(_token(client, user.username, "a-brand-new-passphrase", "10.3.3.3"), 401, "not_authenticated")
    assert _token(client, user.username, DEFAULT_PASSWORD, "10.3.3.3").status_code == 201
