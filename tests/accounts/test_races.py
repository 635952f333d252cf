"""Accounts under concurrent requests, on SQLite and PostgreSQL (the concurrency harness of tests/support).

Each race is run twice: deterministically, with ``interleave`` holding one participant at the
point where the other could slip in, and for real, with requests sent at the same instant.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select

from marketplace.accounts import credentials, twofactor
from marketplace.accounts.models import ApiToken, LoginFailure, RecoveryCode, Role, User
from marketplace.accounts.services import change_password, create_account
from marketplace.accounts.sessions import find_api_token, issue_api_token
from marketplace.accounts.signin import conclude_sign_in, find_candidate
from marketplace.accounts.throttle import SignInScopes
from marketplace.db.engine import Database
from marketplace.errors import Conflict, NotAuthenticated
from marketplace.listings.models import Listing
from marketplace.settings import Settings
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.concurrency import HttpRequest, interleave, parallel_requests, run_together, track_checkouts
from tests.support.factories import DEFAULT_PASSWORD

_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def _form_credentials(client: SiteClient, page: str) -> tuple[str, dict[str, str]]:
    """A CSRF token from ``page`` and the cookie header it belongs to, for requests sent by hand."""
    token = client.csrf_token(page)
    return token, {"Cookie": f"mp_csrf={client.cookies['mp_csrf']}"}


def _enable_two_factor(database: Database, user: User) -> list[str]:
    """Turn two-factor on for ``user`` through the services; returns the recovery codes."""
    with database.session() as db:
        attached = db.get(User, user.id)
        assert attached is not None
        secret = twofactor.start_enrolment(db, attached)
        return twofactor.confirm_enrolment(db, attached, pyotp.TOTP(secret).now())


def _issue_tokens(database: Database, user: User, count: int) -> None:
    with database.session() as db:
        attached = db.get(User, user.id)
        assert attached is not None
        for number in range(count):
            issue_api_token(db, attached, f"old {number}")


def _count(database: Database, statement: Any) -> int:
    with database.session() as db:
        return int(db.scalar(statement) or 0)


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            # Short, so that a request waiting for a second connection would fail here, not after 30 s.
            "database_pool_timeout_seconds": 5,
            "login_max_failures_per_account": 1000,
            "login_max_failures_per_account_address": 1000,
            "login_max_failures_per_address": 1000,
        }
    ],
)
def test_a_hundred_failed_sign_ins_at_once_get_no_5xx_and_the_site_keeps_answering(
    live_server: str,
    database: Database,
    client: SiteClient,
    make_user: Callable[..., User],
    make_listing: Callable[..., Listing],
) -> None:
    user = make_user(Role.BUYER)
    listing = make_listing(title="Quiet teapot")
    login_token, login_cookie = _form_credentials(client, "/login")
    reset_token, reset_cookie = _form_credentials(client, "/account/two-factor/reset")
    wrong = {"username": user.username, "password": "not-the-password"}
    storm = (
        [HttpRequest("POST", "/api/v1/tokens", json=wrong)] * 50
        + [HttpRequest("POST", "/login", headers=login_cookie, data={**wrong, "csrf_token": login_token})] * 30
        + [
            HttpRequest(
                "POST",
                "/account/two-factor/reset",
                headers=reset_cookie,
                data={**wrong, "recovery_code": "abcd-efgh-ijkl-mnop", "csrf_token": reset_token},
            )
        ]
        * 19
    )
    unrelated = HttpRequest("GET", f"/listings/{listing.id}")

    with track_checkouts(database.engine) as checkouts:
        answers = parallel_requests(live_server, [*storm, unrelated], timeout_s=90)

    statuses = [answer.status for answer in answers]
    assert not [status for status in statuses if status >= 500], statuses
    assert statuses[:-1] == [401] * len(storm)
    assert statuses[-1] == 200
    assert "Quiet teapot" in answers[-1].text
    assert checkouts.max_per_request() <= 1, checkouts.report()
    # Every failure was counted (against the account, the address and the pair), none lost to the rollbacks.
    assert _count(database, select(func.count()).select_from(LoginFailure)) == 3 * len(storm)


def test_one_recovery_code_used_twice_at_the_same_moment_works_once(
    database: Database, settings: Settings, make_user: Callable[..., User]
) -> None:
    user = make_user(Role.VENDOR)
    codes = _enable_two_factor(database, user)

    def reset() -> Iterator[str]:
        with database.session() as db:
            scopes = SignInScopes.of(user.username, "192.0.2.1")
            candidate = find_candidate(db, settings, scopes, user.username)
            twofactor.use_recovery_code(db, candidate, password_ok=True, recovery_code=codes[0])
            yield "used"
        yield "committed"

    run = interleave({"a": reset, "b": reset}, ["a:used", "b:used", "a:committed", "b:committed"])

    assert run["a"].error is None, run
    assert run["b"].blocked, run  # b's claim of the code waited for a's ...
    assert isinstance(run["b"].error, NotAuthenticated), run  # ... and then found it used
    used = select(func.count()).select_from(RecoveryCode).where(RecoveryCode.used_at.is_not(None))
    assert _count(database, used) == 0  # two-factor is off: every code of it is gone
    with database.session() as db:
        account = db.get(User, user.id)
        assert account is not None
        assert not account.totp_enabled


def test_one_recovery_code_sent_twice_at_once_over_http_resets_once(
    live_server: str, database: Database, client: SiteClient, make_user: Callable[..., User]
) -> None:
    user = make_user(Role.BUYER)
    codes = _enable_two_factor(database, user)
    token, cookie = _form_credentials(client, "/account/two-factor/reset")
    form = {"username": user.username, "password": DEFAULT_PASSWORD, "recovery_code": codes[3], "csrf_token": token}

    answers = parallel_requests(
        live_server, [HttpRequest("POST", "/account/two-factor/reset", headers=cookie, data=form)] * 4, timeout_s=60
    )

    assert sorted(answer.status for answer in answers) == [303, 401, 401, 401]


def test_two_sign_ups_for_one_name_at_once_give_one_account_and_a_conflict_on_the_username(
    database: Database,
) -> None:
    def sign_up(name: str) -> Iterator[str]:
        with database.session() as db:
            create_account(db, username=name, password=DEFAULT_PASSWORD, role=Role.BUYER)
            yield "inserted"
        yield "committed"

    run = interleave(
        {"a": lambda: sign_up("Twin"), "b": lambda: sign_up("twin")},
        ["a:inserted", "b:inserted", "a:committed", "b:committed"],
    )

    assert run["a"].error is None, run
    error = run["b"].error
    assert isinstance(error, Conflict), run
    assert error.field == "username"
    assert _count(database, select(func.count()).select_from(User).where(User.username_key == "twin")) == 1


def test_the_api_token_cap_holds_when_tokens_are_created_at_the_same_moment(
    database: Database, make_user: Callable[..., User]
) -> None:
    user = make_user(Role.BUYER)
    _issue_tokens(database, user, credentials.MAX_LIVE_TOKENS - 2)

    def create(name: str) -> str:
        with database.session() as db:
            owner = db.get(User, user.id)
            assert owner is not None
            return credentials.create_api_token(db, owner, name)

    outcomes = run_together([lambda n=n: create(f"new {n}") for n in range(6)], timeout_s=60)

    assert sum(outcome.ok for outcome in outcomes) == 2
    assert all(isinstance(outcome.error, Conflict) for outcome in outcomes if not outcome.ok)
    live = select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    assert _count(database, live) == credentials.MAX_LIVE_TOKENS


def test_a_token_created_while_another_is_being_created_waits_and_counts_it(
    database: Database, make_user: Callable[..., User]
) -> None:
    user = make_user(Role.BUYER)
    _issue_tokens(database, user, credentials.MAX_LIVE_TOKENS - 1)

    def create(name: str) -> Iterator[str]:
        with database.session() as db:
            owner = db.get(User, user.id)
            assert owner is not None
            credentials.create_api_token(db, owner, name)
            yield "created"
        yield "committed"

    run = interleave(
        {"a": lambda: create("a"), "b": lambda: create("b")}, ["a:created", "b:created", "a:committed", "b:committed"]
    )

    assert run["a"].error is None, run
    assert run["b"].blocked, run  # b counted only after a's token was committed ...
    assert isinstance(run["b"].error, Conflict), run  # ... and found the cap reached


def _sign_in_and_issue_token(database: Database, settings: Settings, username: str) -> Iterator[str]:
    """A sign-in, paused after its first step (the hash to check is read, the attempt reserved) and
    after the token is issued, before it is committed."""
    with database.session() as db:
        scopes = SignInScopes.of(username, "192.0.2.7")
        candidate = find_candidate(db, settings, scopes, username)
        yield "found"  # the slow hash of the password happens here
        user = conclude_sign_in(db, candidate, password_ok=True, totp_code=None, new_hash=None)
        token = credentials.create_api_token(db, user, "racing sign-in")
        yield "issued"
    yield "committed"
    return token


def _change_password(database: Database, user_id: int) -> Iterator[str]:
    with database.session() as db:
        account = db.get(User, user_id)
        assert account is not None
        change_password(db, account, "A-brand-new-passphrase-7")
        yield "changed"
    yield "committed"


def test_a_token_issued_while_the_password_changes_does_not_survive_the_change(
    database: Database, settings: Settings, make_user: Callable[..., User]
) -> None:
    user = make_user(Role.BUYER)

    run = interleave(
        {
            "sign_in": lambda: _sign_in_and_issue_token(database, settings, user.username),
            "change": lambda: _change_password(database, user.id),
        },
        ["sign_in:found", "sign_in:issued", "change:changed", "sign_in:committed", "change:committed"],
        block_after_s=3.0,  # a password change hashes for a while before it writes: only a lock waits longer
    )

    token = run["sign_in"].unwrap()
    assert run["change"].error is None, run
    assert run["change"].blocked, run  # the change waited for the sign-in's lock on the account ...
    with database.session() as db:
        assert find_api_token(db, token) is None  # ... and then revoked the token it issued


def test_a_sign_in_concluded_after_a_password_change_is_refused(
    database: Database, settings: Settings, make_user: Callable[..., User]
) -> None:
    user = make_user(Role.BUYER)

    run = interleave(
        {
            "change": lambda: _change_password(database, user.id),
            "sign_in": lambda: _sign_in_and_issue_token(database, settings, user.username),
        },
        ["sign_in:found", "change:changed", "sign_in:issued", "change:committed", "sign_in:committed"],
        block_after_s=3.0,  # a password change hashes for a while before it writes: only a lock waits longer
    )

    assert run["sign_in"].blocked, run  # the sign-in's last step waited for the change ...

    assert run["change"].error is None, run
    assert isinstance(run["sign_in"].error, NotAuthenticated), run  # ... and the hash it checked is gone
    live = select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    assert _count(database, live) == 0


@pytest.mark.parametrize("settings_overrides", [{"login_max_failures_per_account": 1000}])
def test_the_api_sign_in_keeps_the_token_cap(
    database: Database, client: SiteClient, make_user: Callable[..., User]
) -> None:
    user = make_user(Role.BUYER)
    _issue_tokens(database, user, credentials.MAX_LIVE_TOKENS)
    response = client.post("/api/v1/tokens", json={"username": user.username, "password": DEFAULT_PASSWORD})
    assert_api_error(response, 409, "conflict", message="revoke some first")
