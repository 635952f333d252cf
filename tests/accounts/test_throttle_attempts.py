"""Throttling that counts every attempt and cannot be turned against the owner (issue 6, item 7).

With the production limits (5 failures per username at one address, 20 per address, a ceiling of
100 per username): guesses sent at the same instant are checked only up to the limit, whichever
way they come in (sign-in page or API, a two-factor code, a recovery code, a password confirmed
with a stolen cookie or token); a stranger's failures do not keep the owner out from elsewhere;
registrations are limited per address. "Checked" is observed by counting the password hashes the
server verifies (``passwords._verify``, the one function every check runs through) and the
throttle's own rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select

from marketplace.accounts import passwords, twofactor
from marketplace.accounts.models import LoginFailure, Role, User
from marketplace.accounts.throttle import SignInScopes
from marketplace.db.engine import Database
from tests.accounts.conftest import code_at
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.concurrency import HttpRequest, parallel_requests
from tests.support.factories import DEFAULT_PASSWORD, Person

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.20"
LIMIT = 5  # login_max_failures_per_account_address's default
GUESSES = 12


@pytest.fixture
def throttle_limits() -> dict[str, Any]:
    """The production limits; one proxy hop is trusted so that a test can speak from several addresses."""
    return {"trusted_proxy_hops": 1}


@pytest.fixture
def verified_hashes(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Every password hash the server checks a password against, in order (the app runs in this process)."""
    checked: list[str | None] = []
    lock = threading.Lock()
    verify = passwords._verify  # the one function every password check runs through

    def counting(password_hash: str | None, password: str) -> bool:
        with lock:
            checked.append(password_hash)
        return verify(password_hash, password)

    monkeypatch.setattr(passwords, "_verify", counting)
    return checked


def _rows(database: Database, scope: str) -> int:
    with database.session() as db:
        return int(db.scalar(select(func.count()).select_from(LoginFailure).where(LoginFailure.scope == scope)) or 0)


def _enable_two_factor(database: Database, user: User) -> tuple[str, list[str]]:
    with database.session() as db:
        attached = db.get(User, user.id)
        assert attached is not None
        secret = twofactor.start_enrolment(db, attached)
        return secret, twofactor.confirm_enrolment(db, attached, pyotp.TOTP(secret).now())


def _wrong_code(secret: str) -> str:
    valid = {code_at(secret, steps) for steps in (-1, 0, 1, 2)}
    return next(code for code in ("000000", "111111", "222222", "333333", "444444") if code not in valid)


def _form_cookies(client: SiteClient, page: str) -> tuple[str, str]:
    """A CSRF token from ``page`` and the Cookie header it goes with (the session's too, if any)."""
    token = client.csrf_token(page)
    return token, "; ".join(f"{name}={value}" for name, value in client.cookies.items())


@dataclass(frozen=True)
class Storm:
    """Twelve guesses of one kind, the status each checked guess gets, and the owner's right answer."""

    requests: list[HttpRequest]
    refused_status: int
    right_token_body: dict[str, str]


def _api_sign_in(user: User, **_: Any) -> Storm:
    wrong = HttpRequest(
        "POST",
        "/api/v1/tokens",
        headers={"X-Forwarded-For": ATTACKER},
        json={"username": user.username, "password": "not-the-password"},
    )
    return Storm([wrong] * GUESSES, 401, {"username": user.username, "password": DEFAULT_PASSWORD})


def _page_sign_in(user: User, client: SiteClient, **_: Any) -> Storm:
    token, cookie = _form_cookies(client, "/login")
    wrong = HttpRequest(
        "POST",
        "/login",
        headers={"X-Forwarded-For": ATTACKER, "Cookie": cookie},
        data={"csrf_token": token, "username": user.username, "password": "not-the-password"},
    )
    return Storm([wrong] * GUESSES, 401, {"username": user.username, "password": DEFAULT_PASSWORD})


def _two_factor_code(user: User, database: Database, **_: Any) -> Storm:
    """The attacker knows the password and guesses the code."""
    secret, _codes = _enable_two_factor(database, user)
    wrong = HttpRequest(
        "POST",
        "/api/v1/tokens",
        headers={"X-Forwarded-For": ATTACKER},
        json={"username": user.username, "password": DEFAULT_PASSWORD, "totp_code": _wrong_code(secret)},
    )
    right = {"username": user.username, "password": DEFAULT_PASSWORD, "totp_code": code_at(secret, 1)}
    return Storm([wrong] * GUESSES, 401, right)


def _recovery_code(user: User, client: SiteClient, database: Database, **_: Any) -> Storm:
    """The attacker knows the password and guesses a recovery code to turn two-factor off."""
    secret, _codes = _enable_two_factor(database, user)
    token, cookie = _form_cookies(client, "/account/two-factor/reset")
    wrong = HttpRequest(
        "POST",
        "/account/two-factor/reset",
        headers={"X-Forwarded-For": ATTACKER, "Cookie": cookie},
        data={
            "csrf_token": token,
            "username": user.username,
            "password": DEFAULT_PASSWORD,
            "recovery_code": "aaaa-bbbb-cccc-dddd",
        },
    )
    right = {"username": user.username, "password": DEFAULT_PASSWORD, "totp_code": code_at(secret, 1)}
    return Storm([wrong] * GUESSES, 401, right)


def _stolen_cookie(user: User, sign_in_as: Callable[[User], Person], **_: Any) -> Storm:
    """With a copy of the session cookie, guessing the password that creating a token asks for."""
    thief = sign_in_as(user).client
    token, cookie = _form_cookies(thief, "/account/tokens")
    wrong = HttpRequest(
        "POST",
        "/account/tokens",
        headers={"X-Forwarded-For": ATTACKER, "Cookie": cookie},
        data={"csrf_token": token, "name": "backdoor", "password": "not-the-password"},
    )
    return Storm([wrong] * GUESSES, 422, {"username": user.username, "password": DEFAULT_PASSWORD})


def _stolen_token(user: User, sign_in_as: Callable[[User], Person], **_: Any) -> Storm:
    """With a copy of an API token, guessing the password that changing the PGP key asks for."""
    bearer = sign_in_as(user).client.headers["Authorization"]
    wrong = HttpRequest(
        "PUT",
        "/api/v1/me/pgp-key",
        headers={"X-Forwarded-For": ATTACKER, "Authorization": bearer},
        json={"pgp_key": "", "password": "not-the-password"},
    )
    return Storm([wrong] * GUESSES, 422, {"username": user.username, "password": DEFAULT_PASSWORD})


@pytest.mark.parametrize(
    "storm_of",
    [_api_sign_in, _page_sign_in, _two_factor_code, _recovery_code, _stolen_cookie, _stolen_token],
    ids=["api-sign-in", "page-sign-in", "two-factor-code", "recovery-code", "stolen-cookie", "stolen-token"],
)
def test_twelve_guesses_at_once_are_checked_only_up_to_the_limit_and_the_owner_still_gets_in(
    live_server: str,
    database: Database,
    request: pytest.FixtureRequest,
    verified_hashes: list[str | None],
    storm_of: Callable[..., Storm],
) -> None:
    client: SiteClient = request.getfixturevalue("client")
    user = request.getfixturevalue("make_user")(Role.VENDOR)
    storm = storm_of(user=user, client=client, database=database, sign_in_as=request.getfixturevalue("sign_in_as"))
    verified_hashes.clear()

    answers = parallel_requests(live_server, storm.requests, timeout_s=90)

    statuses = sorted(answer.status for answer in answers)
    assert statuses == [storm.refused_status] * LIMIT + [429] * (GUESSES - LIMIT), statuses
    assert all(0 < int(answer.headers["retry-after"]) <= 900 for answer in answers if answer.status == 429)
    assert len(verified_hashes) == LIMIT  # only the reserved attempts reached the password hash
    assert _rows(database, SignInScopes.of(user.username, ATTACKER).account_at_address) == LIMIT
    # The right answer from the attacker's address is refused, unchecked ...
    attacker = client.post("/api/v1/tokens", json=storm.right_token_body, headers={"X-Forwarded-For": ATTACKER})
    assert_api_error(attacker, 429, "rate_limited", message="Too many failed sign-ins")
    assert len(verified_hashes) == LIMIT
    # ... while the owner, from another address, signs in.
    owner = client.post("/api/v1/tokens", json=storm.right_token_body, headers={"X-Forwarded-For": OWNER})
    assert owner.status_code == 201, owner.text


@pytest.mark.parametrize("role", [Role.BUYER, Role.ADMIN])
def test_a_strangers_failures_do_not_lock_the_owner_out_signed_in_or_not(
    client: SiteClient, make_client: Callable[[], SiteClient], make_user: Callable[..., User], role: Role
) -> None:
    user = make_user(role)
    stranger = make_client()
    stranger.headers["X-Forwarded-For"] = ATTACKER
    for _ in range(LIMIT):
        guess = stranger.post("/api/v1/tokens", json={"username": user.username, "password": "not-the-password"})
        assert_api_error(guess, 401, "not_authenticated")
    locked = stranger.submit("/login", "/login", {"username": user.username, "password": DEFAULT_PASSWORD})
    assert locked.status_code == 429  # the stranger's address is done guessing, right password or not

    client.headers["X-Forwarded-For"] = OWNER
    client.sign_in(user.username, DEFAULT_PASSWORD)
    changed = client.submit(
        "/account/password",
        "/account/password",
        {"current_password": DEFAULT_PASSWORD, "new_password": "A-fresh-passphrase-after-the-attack"},
    )
    assert changed.status_code == 303, changed.text
    assert client.get("/account").status_code == 200
    token = client.post(
        "/api/v1/tokens", json={"username": user.username, "password": "A-fresh-passphrase-after-the-attack"}
    )
    assert token.status_code == 201


@pytest.mark.parametrize("settings_overrides", [{"registration_max_per_address": 3, "trusted_proxy_hops": 1}])
def test_registrations_beyond_the_limit_per_address_get_429_and_create_nothing(
    live_server: str, client: SiteClient, database: Database
) -> None:
    def users() -> int:
        with database.session() as db:
            return int(db.scalar(select(func.count()).select_from(User)) or 0)

    address = {"X-Forwarded-For": ATTACKER}
    # Refused registrations do not use up the address's allowance.
    for _ in range(4):
        weak = client.post(
            "/api/v1/accounts", json={"username": "weakling", "password": "password1", "role": "buyer"}, headers=address
        )
        assert_api_error(weak, 422, "invalid", field="password")

    answers = parallel_requests(
        live_server,
        [
            HttpRequest(
                "POST",
                "/api/v1/accounts",
                headers=address,
                json={"username": f"flood{n}", "password": DEFAULT_PASSWORD, "role": "buyer"},
            )
            for n in range(GUESSES)
        ],
        timeout_s=90,
    )

    assert sorted(answer.status for answer in answers) == [201] * 3 + [429] * (GUESSES - 3)
    for answer in answers:
        if answer.status == 429:
            assert answer.json()["error"] == "rate_limited"
            assert 0 < int(answer.headers["retry-after"]) <= 3600
    assert users() == 3
    page = client.post(
        "/register",
        data={
            "csrf_token": client.csrf_token("/register"),
            "username": "flood-page",
            "password": DEFAULT_PASSWORD,
            "role": "vendor",
        },
        headers=address,
    )
    assert page.status_code == 429
    assert "Too many accounts were registered from your address" in page.text
    assert "retry-after" in page.headers
    assert users() == 3
    elsewhere = client.post(
        "/api/v1/accounts",
        json={"username": "neighbour", "password": DEFAULT_PASSWORD, "role": "buyer"},
        headers={"X-Forwarded-For": OWNER},
    )
    assert elsewhere.status_code == 201
