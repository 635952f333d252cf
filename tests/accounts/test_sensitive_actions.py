"""Sensitive actions ask who you are (issue 6, item 8).

A copied session cookie or API token alone cannot turn two-factor on or off, create an API token,
change the payout address, the PGP key or the password, or close the account: each asks for the
password, and the two-factor code when it is on, on the pages and in the API. For every such
action: without the password it is refused naming the field and changes nothing (and counts
nothing); a wrong one is refused, changes nothing and counts as a failed sign-in; the right one
works and leaves no failure counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select

from marketplace.accounts import credentials, twofactor
from marketplace.accounts.models import ApiToken, LoginFailure, Role, User
from marketplace.accounts.sessions import issue_api_token
from marketplace.accounts.throttle import SignInScopes
from marketplace.db.engine import Database
from tests.accounts.conftest import code_at
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import DEFAULT_PASSWORD, MAINNET_ADDRESS, Person

NEW_PASSWORD = "A-brand-new-passphrase-9"
PGP_KEY = (
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZQAAABYJKwYBBAHaRw8BAQdA\n=AbCd\n-----END PGP PUBLIC KEY BLOCK-----"
)
_SECRET_ON_PAGE = re.compile(r'<code class="secret">([A-Z2-7 ]+)</code>')


def _account(database: Database, user: User) -> User:
    with database.session() as db:
        account = db.get(User, user.id)
        assert account is not None
        return account


def _live_tokens(database: Database, user: User) -> int:
    with database.session() as db:
        live = (
            select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        )
        return int(db.scalar(live) or 0)


def _failures(database: Database, user: User) -> int:
    """Failed attempts counted against the user at the test client's address."""
    scope = SignInScopes.of(user.username, "testclient").account_at_address
    with database.session() as db:
        return int(db.scalar(select(func.count()).select_from(LoginFailure).where(LoginFailure.scope == scope)) or 0)


def _enable_two_factor(database: Database, user: User) -> str:
    with database.session() as db:
        attached = db.get(User, user.id)
        assert attached is not None
        secret = twofactor.start_enrolment(db, attached)
        twofactor.confirm_enrolment(db, attached, pyotp.TOTP(secret).now())
        return secret


def _start_enrolment_on_the_page(person: Person) -> dict[str, str]:
    """Start setting two-factor up; the code from the new app is what the confirmation sends."""
    assert person.client.submit("/account/two-factor", "/account/two-factor", {"action": "enrol"}).status_code == 303
    match = _SECRET_ON_PAGE.search(person.client.get("/account/two-factor").text)
    assert match
    return {"action": "verify", "totp_code": code_at(match.group(1).replace(" ", ""))}


@dataclass(frozen=True)
class Action:
    """One sensitive action: where it is sent, what it changes, and what it needs besides the password."""

    name: str
    method: str
    path: str
    form_page: str | None  # None: an API call (the token), else the page whose form is submitted (the cookie)
    fields: dict[str, str]
    state: Callable[[Database, User], Any]
    ok_status: int
    role: Role = Role.VENDOR
    password_field: str = "password"
    prepare: Callable[[Person], dict[str, str]] | None = None
    needs_two_factor: bool | None = None  # True: only with it on; False: only with it off; None: both
    extra: dict[str, str] = field(default_factory=dict)

    def send(self, person: Person, data: dict[str, str]) -> Any:
        if self.form_page is None:
            return person.client.request(self.method, self.path, json=data)
        return person.client.submit(self.form_page, self.path, data)

    def assert_refused(self, response: Any, field_name: str, message: str) -> None:
        if self.form_page is None:
            assert_api_error(response, 422, "invalid", field=field_name, message=message)
        else:
            assert response.status_code == 422, response.text[:500]
            assert f'id="{field_name}-error"' in response.text
            assert message in response.text


ACTIONS = [
    Action(
        "create-token-page",
        "POST",
        "/account/tokens",
        "/account/tokens",
        {"name": "shop script"},
        _live_tokens,
        200,
    ),
    Action(
        "turn-two-factor-on",
        "POST",
        "/account/two-factor",
        "/account/two-factor",
        {},
        lambda database, user: _account(database, user).totp_enabled,
        200,
        prepare=_start_enrolment_on_the_page,
        needs_two_factor=False,
    ),
    Action(
        "turn-two-factor-off",
        "POST",
        "/account/two-factor",
        "/account/two-factor",
        {"action": "disable"},
        lambda database, user: _account(database, user).totp_enabled,
        303,
        needs_two_factor=True,
    ),
    Action(
        "profile-page",
        "POST",
        "/account/profile",
        "/account",
        {"pgp_key": PGP_KEY, "payout_address": MAINNET_ADDRESS},
        lambda database, user: (_account(database, user).pgp_key, _account(database, user).payout_address),
        303,
    ),
    Action(
        "change-password",
        "POST",
        "/account/password",
        "/account/password",
        {"new_password": NEW_PASSWORD},
        lambda database, user: _account(database, user).password_hash,
        303,
        password_field="current_password",
    ),
    Action(
        "close-account",
        "POST",
        "/account/delete",
        "/account/delete",
        {},
        lambda database, user: _account(database, user).status,
        303,
    ),
    Action(
        "payout-address-api",
        "PUT",
        "/api/v1/me/payout-address",
        None,
        {"address": MAINNET_ADDRESS},
        lambda database, user: _account(database, user).payout_address,
        200,
    ),
    Action(
        "pgp-key-api",
        "PUT",
        "/api/v1/me/pgp-key",
        None,
        {"pgp_key": PGP_KEY},
        lambda database, user: _account(database, user).pgp_key,
        200,
        role=Role.BUYER,
    ),
]
CASES = [
    pytest.param(action, two_factor, id=f"{action.name}-{'with' if two_factor else 'without'}-two-factor")
    for action in ACTIONS
    for two_factor in (False, True)
    if action.needs_two_factor in (None, two_factor)
]


@pytest.mark.parametrize(("action", "two_factor"), CASES)
def test_a_sensitive_action_needs_the_password_and_the_code_and_counts_wrong_ones(
    database: Database, sign_up: Callable[..., Person], action: Action, two_factor: bool
) -> None:
    person = sign_up(action.role)
    user = person.user
    secret = _enable_two_factor(database, user) if two_factor else None
    fields = {**action.fields, **(action.prepare(person) if action.prepare else {})}
    if action.name == "close-account":
        fields["confirm_username"] = user.username
    before = action.state(database, user)
    code = {"totp_code": code_at(secret, 1)} if secret else {}

    missing = action.send(person, {**fields, **code})
    # The API documents the field as required (its validation names it); a page asks for it.
    action.assert_refused(missing, action.password_field, "Enter your password" if action.form_page else "required")
    assert _failures(database, user) == 0  # a missing password is no guess

    wrong = action.send(person, {**fields, **code, action.password_field: "not-the-password"})
    action.assert_refused(wrong, action.password_field, "not your current password")
    assert action.state(database, user) == before
    assert _failures(database, user) == 1  # counted as a failed sign-in

    if secret:
        no_code = action.send(person, {**fields, action.password_field: DEFAULT_PASSWORD})
        action.assert_refused(no_code, "totp_code", "Enter a current code")
        wrong_code = next(
            c for c in ("000000", "111111", "222222") if c not in {code_at(secret, s) for s in (-1, 0, 1)}
        )
        bad = action.send(person, {**fields, action.password_field: DEFAULT_PASSWORD, "totp_code": wrong_code})
        action.assert_refused(bad, "totp_code", "wrong or was already used")
        assert action.state(database, user) == before
        assert _failures(database, user) == 2

    done = action.send(person, {**fields, **code, action.password_field: DEFAULT_PASSWORD})
    assert done.status_code == action.ok_status, done.text[:500]
    assert action.state(database, user) != before
    assert _failures(database, user) == (2 if secret else 1)  # the right one is not counted


def test_a_password_change_gives_a_fresh_session_and_signs_out_every_copy_of_the_old_one(
    client: SiteClient, make_client: Callable[[], SiteClient], signed_in: Callable[..., User]
) -> None:
    user = signed_in(Role.VENDOR)
    old_cookie = client.cookies["mp_session"]
    stolen = make_client()
    stolen.cookies.set("mp_session", old_cookie)
    assert stolen.get("/account").status_code == 200  # the copy works, until ...

    changed = client.submit(
        "/account/password", "/account/password", {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    )

    assert changed.status_code == 303
    new_cookie = client.cookies["mp_session"]
    assert new_cookie != old_cookie  # a fresh session id for the person who made the change
    assert "Every other sign-in" in client.get(changed.headers["location"]).text
    signed_out = stolen.get("/account")
    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith("/login")
    assert stolen.post("/api/v1/tokens", json={"username": user.username, "password": NEW_PASSWORD}).status_code == 201


def test_the_page_keeps_the_same_token_cap_as_the_api_and_a_refusal_there_is_no_failed_sign_in(
    client: SiteClient, database: Database, signed_in: Callable[..., User]
) -> None:
    user = signed_in(Role.BUYER)
    with database.session() as db:
        owner = db.get(User, user.id)
        assert owner is not None
        for number in range(credentials.MAX_LIVE_TOKENS):
            issue_api_token(db, owner, f"old {number}")

    page = client.submit("/account/tokens", "/account/tokens", {"name": "one more", "password": DEFAULT_PASSWORD})
    api = client.post("/api/v1/tokens", json={"username": user.username, "password": DEFAULT_PASSWORD})

    assert page.status_code == 409
    assert "revoke some first" in page.text
    assert_api_error(api, 409, "conflict", message="revoke some first")
    assert _live_tokens(database, user) == credentials.MAX_LIVE_TOKENS
    assert _failures(database, user) == 0  # the right password was given: neither refusal is a failure


@pytest.mark.parametrize("throttle_limits", [{"trusted_proxy_hops": 1}])
def test_wrong_confirmations_count_as_failed_sign_ins_from_that_address_only(
    client: SiteClient, sign_up: Callable[..., Person], database: Database
) -> None:
    person = sign_up(Role.BUYER)
    user = person.user
    for _ in range(5):  # login_max_failures_per_account_address's default
        wrong = person.client.put("/api/v1/me/pgp-key", json={"pgp_key": "", "password": "not-the-password"})
        assert_api_error(wrong, 422, "invalid", field="password")
    throttled = person.client.put("/api/v1/me/pgp-key", json={"pgp_key": "", "password": DEFAULT_PASSWORD})
    assert_api_error(throttled, 429, "rate_limited")
    sign_in = client.post("/api/v1/tokens", json={"username": user.username, "password": DEFAULT_PASSWORD})
    assert_api_error(sign_in, 429, "rate_limited")
    elsewhere = client.post(
        "/api/v1/tokens",
        json={"username": user.username, "password": DEFAULT_PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.20"},
    )
    assert elsewhere.status_code == 201
    assert _failures(database, user) == 5
