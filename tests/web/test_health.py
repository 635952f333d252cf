"""What an operator's probe sees at /health and /ready."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from marketplace.db.engine import Database, make_engine
from marketplace.web.dependencies import get_database
from tests.support.client import SiteClient


def test_health_says_the_process_is_alive(client: SiteClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_the_database_up(client: SiteClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["failing"] == []


def test_ready_names_the_database_when_it_is_down(app: FastAPI, tmp_path: object) -> None:
    # A database URL nothing answers on: the app must stay up and say what is wrong.
    unreachable = Database(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    app.dependency_overrides[get_database] = lambda: unreachable
    with SiteClient(app) as site:
        response = site.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["database"]
    assert body["checks"]["database"]["ok"] is False


def test_every_response_carries_a_request_id(client: SiteClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "probe-42"})
    assert response.headers["x-request-id"] == "probe-42"
    assert client.get("/health").headers["x-request-id"] != "probe-42"


@pytest.mark.parametrize("sent", ["probe\n", "probe 1", "a" * 65, "", "probe;drop"])
def test_a_malformed_request_id_is_replaced(client: SiteClient, sent: str) -> None:
    response = client.get("/health", headers={"X-Request-ID": sent})
    assert response.headers["x-request-id"] != sent
    assert len(response.headers["x-request-id"]) == 16
