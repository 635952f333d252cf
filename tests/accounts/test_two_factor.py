"""Two-factor sign-in: enrol with a QR code, confirm, sign in with codes, no replays, recovery codes, turning it off."""

from __future__ import annotations

from collections.abc import Callable

from marketplace.accounts.models import Role, User
from tests.accounts.conftest import code_at, turn_on_two_factor
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import DEFAULT_PASSWORD

PAGE = "/account/two-factor"


def test_enrolment_shows_an_inline_svg_qr_code_and_the_secret(
    client: SiteClient, signed_in: Callable[..., User]
) -> None:
    user = signed_in()
    off = client.get(PAGE)
    assert "Two-factor sign-in is <strong>off</strong>" in off.text
    assert client.submit(PAGE, PAGE, {"action": "enrol"}).headers["location"] == PAGE
    page = client.get(PAGE)
    assert page.status_code == 200
    qr = page.text.split('<div class="qr"', 1)[1].split("</div>", 1)[0]
    assert "<svg" in qr
    assert "http" not in qr  # drawn inline: no external request
    assert 'class="secret"' in page.text
    assert "<script" not in page.text
    assert page.headers["cache-control"] == "no-store"
    # Not on until confirmed: signing in still needs no code.
    assert (
        client.post("/api/v1/tokens", json={"username": user.username, "password": DEFAULT_PASSWORD}).status_code == 201
    )


def test_a_wrong_code_does_not_turn_two_factor_on(client: SiteClient, signed_in: Callable[..., User]) -> None:
    user = signed_in()
    client.submit(PAGE, PAGE, {"action": "enrol"})
    response = client.submit(PAGE, PAGE, {"action": "verify", "totp_code": "000000x", "password": DEFAULT_PASSWORD})
    assert response.status_code == 422
    assert "That code does not match" in response.text
    assert "<svg" in response.text  # the set-up is still there to retry
    assert (
        client.post("/api/v1/tokens", json={"username": user.username, "password": DEFAULT_PASSWORD}).status_code == 201
    )


def test_with_two_factor_on_signing_in_needs_a_fresh_code(
    client: SiteClient, signed_in: Callable[..., User], make_client: Callable[[], SiteClient]
) -> None:
    user = signed_in()
    secret, _codes = turn_on_two_factor(client)
    assert "Two-factor sign-in is <strong>on</strong>" in client.get(PAGE).text
    browser = make_client()
    missing = browser.submit("/login", "/login", {"username": user.username, "password": DEFAULT_PASSWORD})
    assert missing.status_code == 401
    assert "Enter the six-digit code" in missing.text
    assert f'value="{user.username}"' in missing.text
    wrong = browser.submit(
        "/login", "/login", {"username": user.username, "password": DEFAULT_PASSWORD, "totp_code": "123456"}
    )
    assert wrong.status_code == 401
    assert "wrong or was already used" in wrong.text
    code = code_at(secret, 1)
    browser.sign_in(user.username, DEFAULT_PASSWORD, code)
    assert browser.get("/account").status_code == 200
    # The same code again (a replay, e.g. seen over a shoulder) is refused, on the page and the API.
    replay = make_client().submit(
        "/login", "/login", {"username": user.username, "password": DEFAULT_PASSWORD, "totp_code": code}
    )
    assert replay.status_code == 401
    assert "wrong or was already used" in replay.text
    api_replay = browser.post(
        "/api/v1/tokens", json={"username": user.username, "password": DEFAULT_PASSWORD, "totp_code": code}
    )
    assert_api_error(api_replay, 401, "not_authenticated", field="totp_code")


def test_the_token_endpoint_asks_for_the_code_by_field(client: SiteClient, signed_in: Callable[..., User]) -> None:
    user = signed_in(Role.VENDOR)
    secret, _codes = turn_on_two_factor(client)
    missing = client.post("/api/v1/tokens", json={"username": user.username, "password": DEFAULT_PASSWORD})
    assert_api_error(missing, 401, "not_authenticated", field="totp_code")
    wrong_password = client.post(
        "/api/v1/tokens", json={"username": user.username, "password": "not-the-password", "totp_code": "123456"}
    )
    assert assert_api_error(wrong_password, 401, "not_authenticated")["message"] == "Wrong username or password."
    token = client.api_token(user.username, DEFAULT_PASSWORD, totp_code=code_at(secret, 1))
    client.use_token(token)
    assert client.get("/api/v1/me").json()["username"] == user.username


def test_a_recovery_code_resets_two_factor_once(
    client: SiteClient, signed_in: Callable[..., User], make_client: Callable[[], SiteClient]
) -> None:
    user = signed_in()
    _secret, codes = turn_on_two_factor(client)
    assert len(set(codes)) == 10
    assert codes[0] not in client.get(PAGE).text  # shown once only
    lost = make_client()
    reset = "/account/two-factor/reset"
    wrong = lost.submit(
        reset, reset, {"username": user.username, "password": DEFAULT_PASSWORD, "recovery_code": "nope"}
    )
    assert wrong.status_code == 401
    assert "Wrong username, password or recovery code." in wrong.text
    bad_password = lost.submit(
        reset, reset, {"username": user.username, "password": "not-the-password", "recovery_code": codes[0]}
    )
    assert bad_password.status_code == 401
    assert "Wrong username, password or recovery code." in bad_password.text
    done = lost.submit(
        reset,
        reset,
        {"username": user.username.upper(), "password": DEFAULT_PASSWORD, "recovery_code": codes[0].upper()},
    )
    assert done.status_code == 303
    assert "recovery code is used up" in lost.get(done.headers["location"]).text
    lost.sign_in(user.username, DEFAULT_PASSWORD)  # no code needed any more
    assert "Two-factor sign-in is <strong>off</strong>" in lost.get(PAGE).text
    # Set it up again: neither the used code nor the old unused ones work any more.
    _secret, new_codes = turn_on_two_factor(lost)
    for old in (codes[0], codes[1]):
        again = make_client().submit(
            reset, reset, {"username": user.username, "password": DEFAULT_PASSWORD, "recovery_code": old}
        )
        assert again.status_code == 401
    assert set(new_codes).isdisjoint(codes)


def test_a_recovery_code_does_nothing_for_an_account_without_two_factor(
    client: SiteClient, make_user: Callable[..., User]
) -> None:
    user = make_user()
    reset = "/account/two-factor/reset"
    response = client.submit(
        reset, reset, {"username": user.username, "password": DEFAULT_PASSWORD, "recovery_code": "abcd-efgh-ijkl-mnop"}
    )
    assert response.status_code == 401
    assert "Wrong username, password or recovery code." in response.text


def test_turning_two_factor_off_needs_the_password_and_a_current_code(
    client: SiteClient, signed_in: Callable[..., User]
) -> None:
    user = signed_in()
    secret, _codes = turn_on_two_factor(client)
    nothing = client.submit(PAGE, PAGE, {"action": "disable"})
    assert nothing.status_code == 422
    assert "Enter your password" in nothing.text
    code_only = client.submit(PAGE, PAGE, {"action": "disable", "totp_code": code_at(secret, 1)})
    assert code_only.status_code == 422
    assert "Enter your password" in code_only.text
    password_only = client.submit(PAGE, PAGE, {"action": "disable", "password": DEFAULT_PASSWORD})
    assert password_only.status_code == 422
    assert "Enter a current code" in password_only.text
    wrong_code = client.submit(PAGE, PAGE, {"action": "disable", "password": DEFAULT_PASSWORD, "totp_code": "999999"})
    assert wrong_code.status_code == 422
    assert "wrong or was already used" in wrong_code.text
    wrong_password = client.submit(
        PAGE, PAGE, {"action": "disable", "password": "not-the-password", "totp_code": code_at(secret, 1)}
    )
    assert wrong_password.status_code == 422
    assert "not your current password" in wrong_password.text
    assert "Two-factor sign-in is <strong>on</strong>" in client.get(PAGE).text
    off = client.submit(
        PAGE, PAGE, {"action": "disable", "password": DEFAULT_PASSWORD, "totp_code": code_at(secret, 1)}
    )
    assert off.status_code == 303
    assert "Two-factor sign-in is off." in client.get(off.headers["location"]).text
    assert (
        client.post("/api/v1/tokens", json={"username": user.username, "password": DEFAULT_PASSWORD}).status_code == 201
    )


def test_a_pending_set_up_can_be_cancelled_and_unknown_actions_are_refused(
    client: SiteClient, signed_in: Callable[..., User]
) -> None:
    signed_in()
    client.submit(PAGE, PAGE, {"action": "enrol"})
    assert "<svg" in client.get(PAGE).text
    cancelled = client.submit(PAGE, PAGE, {"action": "cancel"})
    assert "Two-factor set-up cancelled." in client.get(cancelled.headers["location"]).text
    assert "<svg" not in client.get(PAGE).text
    odd = client.submit(PAGE, PAGE, {"action": "make-me-admin"})
    assert odd.status_code == 422
    assert "Unknown action" in odd.text
    verify_without_set_up = client.submit(
        PAGE, PAGE, {"action": "verify", "totp_code": "123456", "password": DEFAULT_PASSWORD}
    )
    assert verify_without_set_up.status_code == 409
