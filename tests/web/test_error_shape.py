"""One JSON error shape for the whole API, and HTML pages for errors elsewhere."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support.client import SiteClient


def test_unknown_api_path_is_a_json_404(client: SiteClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"error": "not_found", "message": "There is nothing here."}


def test_unknown_page_is_an_html_404(client: SiteClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Not found" in response.text
    assert "Back to the marketplace" in response.text


def test_wrong_method_is_a_json_405(client: SiteClient) -> None:
    response = client.delete("/api/openapi.json")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_malformed_json_names_the_problem(client: SiteClient) -> None:
    response = client.post("/api/v1/accounts", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid"
    assert set(body) <= {"error", "message", "field"}
    assert body["message"]


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
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as site:
        api = site.get("/api/v1/broken")
        page = site.get("/broken")
    assert api.status_code == 500
    assert api.json() == {"error": "internal", "message": "Something went wrong on our side; it has been logged."}
    assert page.status_code == 500
    assert "Something went wrong" in page.text
    assert "disk on fire" not in page.text  # internals are logged, not shown
    assert any(record.getMessage() == "unhandled_exception" for record in caplog.records)
