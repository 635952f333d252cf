"""What Prometheus reads at the web process's /metrics: requests by route template, bounded labels, no personal data."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from marketplace.accounts.models import User
from marketplace.db import writes
from marketplace.db.engine import Database
from marketplace.observability import names
from marketplace.settings import Settings
from marketplace.web.app import create_app
from tests.support.client import SiteClient
from tests.support.factories import MAINNET_ADDRESS
from tests.support.metrics import samples, series, value

REQUESTS = names.HTTP_REQUESTS
DURATION_COUNT = names.HTTP_DURATION + "_count"


def _scrape(client: SiteClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_requests_are_counted_by_route_template_method_and_status_class(client: SiteClient) -> None:
    before = _scrape(client)
    first, second = secrets.token_hex(8), secrets.token_hex(8)
    assert client.get(f"/api/v1/listings/{first}").status_code == 404
    assert client.get(f"/api/v1/listings/{second}").status_code == 404
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/health").status_code == 200
    assert client.request("BREW", "/health").status_code == 405
    after = _scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    listing = {"route": "/api/v1/listings/{listing_id}", "method": "GET"}
    assert grew(REQUESTS, **listing, status_class="4xx") == 2
    assert grew(DURATION_COUNT, **listing) == 2
    assert grew(REQUESTS, route="/static", method="GET", status_class="2xx") == 1
    assert grew(REQUESTS, route="/health", method="GET", status_class="2xx") == 1
    assert grew(REQUESTS, route="/health", method="OTHER", status_class="4xx") == 1
    assert first not in after
    assert second not in after


def test_the_api_document_is_counted_under_its_route_not_as_unmatched(client: SiteClient) -> None:
    """FastAPI's own route (a plain Starlette route, not an APIRoute): on the dev stack
    ``GET /api/openapi.json`` was counted as ``unmatched``, among the unknown paths."""
    before = _scrape(client)
    assert client.get("/api/openapi.json").status_code == 200
    after = _scrape(client)

    document = {"route": "/api/openapi.json", "method": "GET", "status_class": "2xx"}
    assert value(after, REQUESTS, **document) - value(before, REQUESTS, **document) == 1
    unmatched = {"route": "unmatched", "method": "GET"}
    assert value(after, REQUESTS, **unmatched) == value(before, REQUESTS, **unmatched)


def test_a_thousand_unknown_paths_make_one_series(client: SiteClient) -> None:
    before = _scrape(client)
    for _ in range(1000):
        assert client.get(f"/{secrets.token_urlsafe(12)}/{secrets.token_hex(4)}").status_code == 404
    after = _scrape(client)
    unmatched = {"route": "unmatched", "method": "GET", "status_class": "4xx"}
    assert value(after, REQUESTS, **unmatched) - value(before, REQUESTS, **unmatched) == 1000
    new_series = series(after) - series(before)
    # at most the unmatched 4xx counter and its duration histogram (buckets, count, sum), and /metrics's own
    assert {name for name, _ in new_series} <= {REQUESTS, f"{names.HTTP_REQUESTS[:-6]}_created"} | {
        names.HTTP_DURATION + suffix for suffix in ("_bucket", "_count", "_sum", "_created")
    }
    assert len({labels for name, labels in new_series if name == REQUESTS}) <= 2


def test_a_method_a_route_does_not_serve_is_one_other_label(client: SiteClient) -> None:
    before = _scrape(client)
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"):
        assert client.request(method, "/health").status_code == 405
    after = _scrape(client)
    counted = {"route": "/health", "status_class": "4xx"}
    assert value(after, REQUESTS, method="OTHER", **counted) - value(before, REQUESTS, method="OTHER", **counted) == 6
    health_methods = {
        dict(labels)["method"]
        for name, labels in series(after)
        if name == REQUESTS and dict(labels)["route"] == "/health"
    }
    assert health_methods <= {"GET", "HEAD", "OTHER"}


def _workload(client: SiteClient, make_client: Callable[[], SiteClient]) -> list[str]:
    """A vendor registers, signs in, sets a payout address and lists; a visitor browses; some calls fail.

    Returns the personal and secret values it used."""
    username = f"vendor{secrets.token_hex(5)}"
    password = secrets.token_urlsafe(18)
    title = f"Widget {secrets.token_hex(6)}"
    vendor = make_client()
    created = vendor.post("/api/v1/accounts", json={"username": username, "password": password, "role": "vendor"})
    assert created.status_code == 201, created.text
    token = vendor.post("/api/v1/tokens", json={"username": username, "password": password})
    assert token.status_code == 201
    vendor.use_token(token.json()["token"])
    address = vendor.put("/api/v1/me/payout-address", json={"address": MAINNET_ADDRESS, "password": password})
    assert address.status_code == 200, address.text
    listing = vendor.post(
        "/api/v1/listings",
        json={"title": title, "description": "Plain.", "price_atomic": 10**12, "stock": 3, "category": "books"},
    )
    assert listing.status_code == 201, listing.text
    listing_id = listing.json()["id"]
    assert client.get("/").status_code == 200
    assert client.get(f"/listings/{listing_id}").status_code == 200
    assert client.get("/api/v1/listings", params={"q": title}).status_code == 200
    assert client.get(f"/api/v1/listings/{listing_id}").status_code == 200
    wrong = client.post("/api/v1/tokens", json={"username": username, "password": password + "x"})
    assert wrong.status_code == 401
    assert client.get(f"/u/{username}/{secrets.token_hex(3)}").status_code == 404
    return [username, password, title, MAINNET_ADDRESS, token.json()["token"]]


def test_metrics_carry_no_personal_data_or_secret_and_a_second_workload_adds_no_series(
    client: SiteClient, make_client: Callable[[], SiteClient]
) -> None:
    used = _workload(client, make_client)
    after_one = _scrape(client)
    for secret_or_personal in used:
        assert secret_or_personal not in after_one
    _workload(client, make_client)  # other users, other listings, the same routes
    after_two = _scrape(client)
    assert series(after_two) == series(after_one)
    # The bound: every label value comes from a closed set (routes x methods x classes), whatever the traffic.
    assert len(series(after_two)) < 2000


def test_metrics_are_not_in_the_api_document(app: FastAPI) -> None:
    assert "/metrics" not in app.openapi()["paths"]


def test_metrics_off_means_no_endpoint(settings: Settings, database: Database) -> None:
    quiet = create_app(settings.model_copy(update={"metrics_enabled": False}), database)
    with SiteClient(quiet) as site:
        assert site.get("/metrics").status_code == 404
    quiet.state.runtime.catalog.close()


def test_build_info_names_the_version_and_the_web_process(client: SiteClient) -> None:
    from marketplace import __version__

    assert value(_scrape(client), names.BUILD_INFO, version=__version__, process="web") == 1


def test_database_errors_are_counted_by_class(database: Database, client: SiteClient) -> None:
    before = _scrape(client)
    with pytest.raises(SQLAlchemyError), database.session() as db:
        db.execute(text("SELECT * FROM no_such_table"))
    after = _scrape(client)
    grown = {
        labels: after_value - samples(before).get((name, labels), 0.0)
        for (name, labels), after_value in samples(after).items()
        if name == names.DB_ERRORS
    }
    # SQLite says OperationalError, PostgreSQL ProgrammingError: one of SQLAlchemy's few classes, never the SQL
    assert sorted(dict(labels)["error"] for labels, grew in grown.items() if grew == 1) in (
        ["OperationalError"],
        ["ProgrammingError"],
    )
    assert "no_such_table" not in after


def test_taking_the_write_lock_is_timed(database: Database, client: SiteClient) -> None:
    count = names.DB_LOCK_WAIT + "_count"
    before = value(_scrape(client), count, process="web")
    with database.session() as db:
        writes.select_for_update(db, select(User).limit(1)).all()
    assert value(_scrape(client), count, process="web") == before + 1


def test_the_cli_does_not_import_prometheus_client_before_serve_sets_it_up() -> None:
    # prometheus-client chooses in-memory or multiprocess storage at import: `marketplace serve` must come first.
    check = "import sys, marketplace.cli.main; assert 'prometheus_client' not in sys.modules, 'imported'"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
