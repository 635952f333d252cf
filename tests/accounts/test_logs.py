"""No password, token, two-factor secret or recovery code ever reaches the logs."""

from __future__ import annotations

import logging
import re

import pytest

from marketplace.logs import JsonLineFormatter
from tests.accounts.conftest import turn_on_two_factor
from tests.support.api import assert_api_error
from tests.support.client import SiteClient

PASSWORD = "log-canary-passphrase-42"
WRONG_PASSWORD = "log-canary-wrong-guess-43"
_NEW_TOKEN = re.compile(r'<code class="secret" id="new-token">([^<]+)</code>')


def test_credentials_never_appear_in_the_logs(client: SiteClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert (
        client.post(
            "/api/v1/accounts", json={"username": "logged_api", "password": PASSWORD, "role": "vendor"}
        ).status_code
        == 201
    )
    registered = client.submit(
        "/register", "/register", {"username": "logged_page", "password": PASSWORD, "role": "buyer"}
    )
    assert registered.status_code == 303
    session_cookie = client.cookies["mp_session"]
    page_token_response = client.submit("/account/tokens", "/account/tokens", {"name": "logged", "password": PASSWORD})
    match = _NEW_TOKEN.search(page_token_response.text)
    assert match
    secret, recovery_codes = turn_on_two_factor(client, PASSWORD)
    api_token = client.api_token("logged_api", PASSWORD)
    refused = client.post("/api/v1/tokens", json={"username": "logged_api", "password": WRONG_PASSWORD})
    assert_api_error(refused, 401, "not_authenticated")
    failed = client.submit("/login", "/login", {"username": "logged_page", "password": WRONG_PASSWORD})
    assert failed.status_code == 401
    client.sign_in("logged_api", PASSWORD)

    formatter = JsonLineFormatter()
    lines = "\n".join(formatter.format(record) for record in caplog.records)
    assert '"event":"http_request"' in lines  # the capture works: requests were logged
    assert '"path":"/api/v1/tokens"' in lines
    for secret_text in (PASSWORD, WRONG_PASSWORD, api_token, match.group(1), session_cookie, secret, *recovery_codes):
        assert secret_text not in lines
