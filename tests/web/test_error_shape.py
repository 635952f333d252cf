"""One JSON error shape for the whole API, and HTML pages for errors elsewhere."""

from __future__ import annotations

import http.client
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from marketplace.accounts.auth import PageUser
from marketplace.accounts.models import Role
from marketplace.db.engine import Database
from marketplace.errors import NotFound
from marketplace.logs import JsonLineFormatter
from marketplace.web.dependencies import DbSession
from marketplace.web.pages import attempt
from tests.support.api import assert_api_error
from tests.support.client import SiteClient
from tests.support.factories import Person


def test_unknown_api_path_is_a_json_404(client: SiteClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert assert_api_error(response, 404, "not_found")["message"] == "There is nothing here."


def test_unknown_page_is_an_html_404(client: SiteClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Not found" in response.text
    assert "Back to the marketplace" in response.text


def test_wrong_method_is_a_json_405(client: SiteClient) -> None:
    assert_api_error(client.delete("/api/openapi.json"), 405, "method_not_allowed")


def test_malformed_json_names_the_problem(client: SiteClient) -> None:
    response = client.post("/api/v1/accounts", content=b"{not json", headers={"content-type": "application/json"})
    # No field: FastAPI locates a JSON decode error by a character offset, which names no field.
    assert_api_error(response, 422, "invalid", message="not valid JSON")


def test_openapi_document_is_served(client: SiteClient) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Monero Marketplace"


def test_pages_carry_security_headers(client: SiteClient) -> None:
    response = client.get("/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "script-src 'none'" in response.headers["content-security-policy"]


def test_an_unexpected_failure_is_a_500_page_or_json_and_is_logged(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("disk on fire")

    app.add_api_route("/api/v1/broken", broken)
    app.add_api_route("/broken", broken)
    with TestClient(app, base_url="https://testserver") as site:
        api = site.get("/api/v1/broken", headers={"X-Request-ID": "probe-500"})
        page = site.get("/broken")
    assert_api_error(api, 500, "internal", message="Something went wrong on our side")
    assert page.status_code == 500
    assert "Something went wrong" in page.text
    assert "disk on fire" not in page.text  # internals are logged, not shown
    # A 500 is still one of ours: the same headers and request id as every other answer ...
    for response in (api, page):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "script-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-request-id"]
    assert api.headers["x-request-id"] == "probe-500"
    # ... and its log line, with the traceback, carries that id.
    failures = [record for record in caplog.records if record.getMessage() == "unhandled_exception"]
    assert len(failures) == 2
    assert failures[0].exc_info is not None
    assert "disk on fire" in str(failures[0].exc_info[1])
    assert getattr(failures[0], "request_id", None) == "probe-500"
    assert '"request_id":"probe-500"' in JsonLineFormatter().format(failures[0])


def test_a_500_keeps_the_connection_open(app: FastAPI, live_server: str) -> None:
    def broken() -> None:
        raise RuntimeError("disk on fire")

    app.add_api_route("/api/v1/broken", broken)
    url = urlsplit(live_server)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        connection.request("GET", "/api/v1/broken")
        failed = connection.getresponse()
        assert failed.status == 500
        assert failed.getheader("x-request-id")
        failed.read()
        connection.request("GET", "/health")  # the same keep-alive connection
        healthy = connection.getresponse()
        assert healthy.status == 200
    finally:
        connection.close()


def test_a_database_bug_is_a_500_with_its_traceback_not_a_conflict(
    app: FastAPI, client: SiteClient, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the expected race (a duplicate username) is a 409; a constraint broken by a bug is a 500."""

    def insert_a_listing_without_vendor(db: DbSession) -> None:
        db.execute(
            text(
                "INSERT INTO listings (vendor_id, title, description, description_format, price_atomic, stock, "
                "category, status, created_at, updated_at) VALUES (:vendor, :title, 'y', 'plain', 1, 1, 'books', "
                "'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"vendor": 987654, "title": "a title only the statement's parameters hold"},
        )

    app.add_api_route("/api/v1/buggy", insert_a_listing_without_vendor, methods=["POST"])
    response = client.post("/api/v1/buggy")
    assert_api_error(response, 500, "internal")
    failures = [record for record in caplog.records if record.getMessage() == "unhandled_exception"]
    assert failures, "the bug was not logged"
    assert failures[0].exc_info is not None
    assert type(failures[0].exc_info[1]).__name__ == "IntegrityError"
    # The statement's parameters stay out of the log (they can hold personal data or secrets).
    assert "only the statement's parameters hold" not in JsonLineFormatter().format(failures[0])
    with database.session() as db:
        assert db.scalar(text("SELECT count(*) FROM listings")) == 0


def test_an_error_page_after_a_refused_page_action_still_shows_who_is_signed_in(
    app: FastAPI, sign_up: Callable[..., Person]
) -> None:
    """``attempt`` rolls the request back (the signed-in user is expired); the error page must still render."""

    def refuse_then_fail(db: DbSession, user: PageUser) -> None:
        outcome = attempt(db, lambda: (_ for _ in ()).throw(NotFound("There is no such thing.")))
        assert isinstance(outcome, NotFound)
        raise outcome

    app.add_api_route("/refused-then-failed", refuse_then_fail)
    person = sign_up(Role.BUYER)
    page = person.client.get("/refused-then-failed")
    assert page.status_code == 404
    assert "There is no such thing." in page.text
    assert person.username in page.text  # the header still names who is signed in
