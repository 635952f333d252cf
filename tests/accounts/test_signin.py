"""Signing in and out on pages and with API tokens: cookies, sessions, expiry, CSRF, one answer for bad logins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import update

from marketplace.accounts.auth import SESSION_COOKIE
from marketplace.accounts.models import AccountStatus, Role, User, WebSession
from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import DEFAULT_PASSWORD, MAINNET_ADDRESS

WRONG = "Wrong username or password."


def _session_cookie(response: Any) -> str:
    """The value of the ``mp_session`` cookie a response sets, with its attributes."""
    headers = [value for value in response.headers.get_list("set-cookie") if value.startswith(f"{SESSION_COOKIE}=")]
    assert len(headers) == 1, headers
    return str(headers[0])


def _browser_with_cookie(make_client: Callable[[], SiteClient], value: str) -> SiteClient:
    other = make_client()
    other.cookies.set(SESSION_COOKIE, value)
    return other


def test_signing_in_sets_a_secure_httponly_samesite_cookie_and_redirects(
    client: SiteClient, make_user: Callable[..., User]
) -> None:
    user = make_user()
    response = client.sign_in(user.username, DEFAULT_PASSWORD)
    assert response.headers["location"] == "/"
    cookie = _session_cookie(response)
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes
    assert "secure" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    page = client.get("/account")
    assert page.status_code == 200
    assert user.username in page.text


def test_every_sign_in_gets_a_new_session_id_and_retires_the_old_one(
    client: SiteClient, make_user: Callable[..., User], make_client: Callable[[], SiteClient]
) -> None:
    user = make_user()
    first = _session_cookie(client.sign_in(user.username, DEFAULT_PASSWORD)).split(";")[0].split("=", 1)[1]
    second = _session_cookie(client.sign_in(user.username, DEFAULT_PASSWORD)).split(";")[0].split("=", 1)[1]
    assert first != second
    assert client.get("/account").status_code == 200
    assert _browser_with_cookie(make_client, first).get("/account").status_code == 303
    assert _browser_with_cookie(make_client, second).get("/account").status_code == 200


def test_signing_out_revokes_the_session_not_just_the_cookie(
    client: SiteClient, make_user: Callable[..., User], make_client: Callable[[], SiteClient]
) -> None:
    user = make_user()
    value = _session_cookie(client.sign_in(user.username, DEFAULT_PASSWORD)).split(";")[0].split("=", 1)[1]
    response = client.submit("/account", "/logout", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?notice=signed-out"
    assert "max-age=0" in _session_cookie(response).lower()
    assert "You are signed out." in client.get(response.headers["location"]).text
    replay = _browser_with_cookie(make_client, value).get("/account")
    assert replay.status_code == 303
    assert replay.headers["location"] == "/login?next=/account"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account/tokens", "/account/tokens"),
        ("/listings/1?x=1", "/listings/1?x=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_after_sign_in_only_a_local_next_is_followed(
    client: SiteClient, make_user: Callable[..., User], target: str, expected: str
) -> None:
    user = make_user()
    response = client.submit(
        "/login", "/login", {"username": user.username, "password": DEFAULT_PASSWORD, "next": target}
    )
    assert response.status_code == 303
    assert response.headers["location"] == expected


def test_a_page_that_needs_a_sign_in_sends_you_to_sign_in_and_back(
    client: SiteClient, make_user: Callable[..., User]
) -> None:
    user = make_user()
    response = client.get("/account/sessions")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account/sessions"
    form = client.get(response.headers["location"])
    assert 'name="next" value="/account/sessions"' in form.text
    signed_in = client.submit(
        "/login", "/login", {"username": user.username, "password": DEFAULT_PASSWORD, "next": "/account/sessions"}
    )
    assert signed_in.headers["location"] == "/account/sessions"


def test_wrong_password_and_unknown_username_get_the_same_answer(
    client: SiteClient, make_user: Callable[..., User], database: Database
) -> None:
    user = make_user(username="known")
    suspended = make_user(username="suspended")
    deleted = make_user(username="deleted")
    with database.session() as session:
        session.execute(update(User).where(User.id == suspended.id).values(status=AccountStatus.SUSPENDED.value))
        session.execute(update(User).where(User.id == deleted.id).values(status=AccountStatus.DELETED.value))
    attempts = [
        (user.username, "not-the-right-password"),
        ("nobody-by-this-name", "not-the-right-password"),
        ("nobody-by-this-name", DEFAULT_PASSWORD),
        (suspended.username, DEFAULT_PASSWORD),
        (deleted.username, DEFAULT_PASSWORD),
        ("", ""),
    ]
    api_answers = []
    for username, password in attempts:
        response = client.post("/api/v1/tokens", json={"username": username, "password": password})
        api_answers.append(assert_api_error(response, 401, "not_authenticated", message=WRONG))
        page = client.submit("/login", "/login", {"username": username, "password": password})
        assert page.status_code == 401
        assert WRONG in page.text
        assert SESSION_COOKIE not in page.headers.get("set-cookie", "")
        assert password not in page.text or not password
    assert api_answers == [{"error": "not_authenticated", "message": WRONG}] * len(attempts)


def test_the_username_is_kept_in_the_form_but_never_the_password(client: SiteClient) -> None:
    page = client.submit("/login", "/login", {"username": "<b>someone</b>", "password": "typed-secret-value"})
    assert page.status_code == 401
    assert 'value="&lt;b&gt;someone&lt;/b&gt;"' in page.text
    assert "typed-secret-value" not in page.text


def test_a_missing_or_wrong_csrf_token_is_refused_and_changes_nothing(
    client: SiteClient, signed_in: Callable[..., User], make_client: Callable[[], SiteClient]
) -> None:
    signed_in(Role.VENDOR)
    for token in (None, "forged", client.csrf_token("/account") + "x"):
        data = {"pgp_key": "", "payout_address": MAINNET_ADDRESS}
        if token is not None:
            data["csrf_token"] = token
        response = client.post("/account/profile", data=data)
        assert response.status_code == 403
        assert "did not come from this site" in response.text
        logout = client.post("/logout", data={} if token is None else {"csrf_token": token})
        assert logout.status_code == 403
    account = client.get("/account")
    assert account.status_code == 200  # still signed in
    assert MAINNET_ADDRESS not in account.text  # and the profile did not change
    stranger = make_client()
    register = stranger.post("/register", data={"username": "forged", "password": DEFAULT_PASSWORD, "role": "buyer"})
    assert register.status_code == 403
    token_answer = stranger.post("/api/v1/tokens", json={"username": "forged", "password": DEFAULT_PASSWORD})
    assert_api_error(token_answer, 401, "not_authenticated")
    login = stranger.post("/login", data={"username": "forged", "password": DEFAULT_PASSWORD})
    assert login.status_code == 403
    assert SESSION_COOKIE not in login.headers.get("set-cookie", "")


@pytest.mark.parametrize("expiry", ["absolute", "idle"])
def test_an_expired_session_redirects_pages_and_refuses_forms(
    client: SiteClient, signed_in: Callable[..., User], database: Database, expiry: str
) -> None:
    user = signed_in()
    token = client.csrf_token("/account/tokens")
    past = utcnow() - timedelta(seconds=1)
    values = {"expires_at": past} if expiry == "absolute" else {"last_seen_at": past - timedelta(days=30)}
    with database.session() as session:
        session.execute(update(WebSession).where(WebSession.user_id == user.id).values(**values))
    page = client.get("/account/tokens")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/account/tokens"
    form = client.post("/account/tokens", data={"csrf_token": token, "name": "late"})
    assert form.status_code == 401
    assert "Sign in to continue" in form.text
    client.sign_in(user.username, DEFAULT_PASSWORD)
    assert "late" not in client.get("/account/tokens").text


def test_api_tokens_authenticate_the_api_and_can_revoke_themselves(
    client: SiteClient, make_user: Callable[..., User]
) -> None:
    user = make_user(role=Role.VENDOR)
    token = client.api_token(user.username.upper(), DEFAULT_PASSWORD)
    assert token.startswith("mpt_")
    client.use_token(token)
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json() == {
        "id": user.id,
        "username": user.username,
        "role": "vendor",
        "payout_address": None,
        "pgp_key": None,
    }
    assert client.delete("/api/v1/tokens/current").status_code == 204
    after = client.get("/api/v1/me")
    assert_api_error(after, 401, "not_authenticated")
    assert after.headers["www-authenticate"] == "Bearer"


def test_the_api_ignores_the_session_cookie(client: SiteClient, signed_in: Callable[..., User]) -> None:
    signed_in()
    assert_api_error(client.get("/api/v1/me"), 401, "not_authenticated")
    client.use_token("mpt_not-a-real-token")
    assert_api_error(client.get("/api/v1/me"), 401, "not_authenticated")


def test_the_token_endpoint_refuses_fields_it_does_not_know(client: SiteClient, make_user: Callable[..., User]) -> None:
    user = make_user()
    response = client.post(
        "/api/v1/tokens", json={"username": user.username, "password": DEFAULT_PASSWORD, "role": "admin"}
    )
    assert_api_error(response, 422, "invalid", field="role")


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(username=st.text(max_size=80), password=st.text(max_size=40))
def test_any_wrong_credentials_get_the_one_answer(client: SiteClient, username: str, password: str) -> None:
    response = client.post("/api/v1/tokens", json={"username": username, "password": password})
    assert assert_api_error(response, 401, "not_authenticated")["message"] == WRONG
