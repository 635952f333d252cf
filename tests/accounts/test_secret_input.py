"""Every comparison of a secret with input treats malformed input as a plain mismatch, never an error.

A web scanner appends ``¿'"(`` to every value it finds; before, a CSRF token so changed made every
form POST answer 500 (``hmac.compare_digest`` refuses non-ASCII text). Session ids, API tokens,
two-factor and recovery codes are checked with the same care (``marketplace.secret_compare``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from marketplace.accounts.models import Role, User
from marketplace.secret_compare import same_secret
from tests.accounts.conftest import code_at, turn_on_two_factor
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import DEFAULT_PASSWORD

SCANNER_SUFFIX = "%C2%BF%27%22%28"  # ¿'"( as a scanner appends it


def _form_posts(app: FastAPI) -> list[str]:
    """Every page route that takes a POST, with any path id filled in."""
    paths = [
        re.sub(r"\{[^}]+\}", "1", context.path)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.route, APIRoute)
        and "POST" in context.route.methods
        and not context.path.startswith("/api/")
    ]
    assert {"/login", "/register", "/account/two-factor/reset", "/sell/new", "/admin/users/new"} <= set(paths)
    return paths


def _post_with_token(client: SiteClient, path: str, token: str) -> int:
    body = f"csrf_token={token}{SCANNER_SUFFIX}&username=someone&password=whatever-it-is"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return client.post(path, content=body.encode(), headers=headers).status_code


def test_every_form_post_with_a_scanners_csrf_token_is_refused_with_403(
    app: FastAPI, client: SiteClient, make_client: Callable[[], SiteClient], make_user: Callable[..., User]
) -> None:
    admin = make_client()
    admin.sign_in(make_user(Role.ADMIN).username, DEFAULT_PASSWORD)
    for who, site in (("anonymous", client), ("admin", admin)):
        token = site.csrf_token("/login")
        answers = {path: _post_with_token(site, path, token) for path in _form_posts(app)}
        assert answers == dict.fromkeys(answers, 403), who
        # And the token itself, as sent by the form, still works.
        assert site.post("/logout", data={"csrf_token": token}).status_code == 303, who


def test_malformed_api_tokens_and_session_cookies_are_unknown_ones(client: SiteClient) -> None:
    for header in (b"Bearer mpt_abc\xc2\xbf'\"(", b"Bearer \xff\xfe", b"Bearer mpt_" + "é".encode("latin-1")):
        assert_api_error(client.get("/api/v1/me", headers={"Authorization": header}), 401, "not_authenticated")
    for cookie in (b"mp_session=abc\xc2\xbf'\"(", b"mp_session=\xff"):
        answer = client.get("/account", headers={"Cookie": cookie})
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"].startswith("/login")


def test_two_factor_and_recovery_codes_in_other_scripts_are_wrong_codes(
    client: SiteClient, signed_in: Callable[..., User], make_client: Callable[[], SiteClient]
) -> None:
    user = signed_in(Role.VENDOR)
    secret, codes = turn_on_two_factor(client)
    good = code_at(secret, 1)
    arabic_indic = good.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    fullwidth = good.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    fresh = make_client()
    for code in (arabic_indic, fullwidth, good + "¿'\"(", "\x00" + good):
        response = fresh.submit(
            "/login", "/login", {"username": user.username, "password": DEFAULT_PASSWORD, "totp_code": code}
        )
        assert response.status_code == 401, (code, response.status_code)
        api = fresh.post(
            "/api/v1/tokens", json={"username": user.username, "password": DEFAULT_PASSWORD, "totp_code": code}
        )
        assert api.status_code in (401, 422), (code, api.text)
    for code in (codes[0] + "¿'\"(", codes[0].upper().replace("-", "\u2010"), "\ufeff" + codes[0]):
        reset = fresh.submit(
            "/account/two-factor/reset",
            "/account/two-factor/reset",
            {"username": user.username, "password": DEFAULT_PASSWORD, "recovery_code": code},
        )
        assert reset.status_code == 401, (code, reset.status_code)
    assert fresh.sign_in(user.username, DEFAULT_PASSWORD, code_at(secret, 1)).status_code == 303


def test_same_secret_compares_any_text() -> None:
    assert same_secret("abc", "abc")
    for given in ("abc¿'\"(", "ab\ud800", "ａｂｃ", "", "abc\x00"):
        assert not same_secret(given, "abc")
