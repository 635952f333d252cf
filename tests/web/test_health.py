"""What an operator's probe sees at /health and /ready."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI

from marketplace.db.base import utcnow
from marketplace.db.engine import Database, make_engine
from marketplace.jobs.queue import enqueue
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
    backlog = body["checks"]["job_backlog"]
    assert backlog == {"ok": True, "due_jobs": 0, "oldest_wait_seconds": 0.0, "limit_seconds": 600}
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


def test_a_load_balancer_probing_with_head_gets_the_same_status(app: FastAPI, client: SiteClient) -> None:
    """HAProxy's `option httpchk HEAD /ready` and uptime monitors probe with HEAD: on the dev stack
    both endpoints answered 405 to it, which every such probe reads as "down"."""
    assert client.head("/health").status_code == 200
    assert client.head("/ready").status_code == 200
    assert client.head("/ready").content == b""
    unreachable = Database(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    app.dependency_overrides[get_database] = lambda: unreachable
    with SiteClient(app) as site:
        assert site.head("/ready").status_code == 503


def test_every_response_carries_a_request_id(client: SiteClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "probe-42"})
    assert response.headers["x-request-id"] == "probe-42"
    assert client.get("/health").headers["x-request-id"] != "probe-42"


@pytest.mark.parametrize("sent", ["probe\n", "probe 1", "a" * 65, "", "probe;drop"])
def test_a_malformed_request_id_is_replaced(client: SiteClient, sent: str) -> None:
    response = client.get("/health", headers={"X-Request-ID": sent})
    assert response.headers["x-request-id"] != sent
    assert len(response.headers["x-request-id"]) == 16


def _queue_job(database: Database, *, waited_seconds: float) -> None:
    with database.session() as db:
        enqueue(db, "test_backlog", run_at=utcnow() - timedelta(seconds=waited_seconds))


@pytest.mark.parametrize("settings_overrides", [{"ready_job_backlog_seconds": 600}])
def test_ready_counts_due_jobs_and_is_not_ready_when_the_oldest_waited_too_long(
    client: SiteClient, database: Database
) -> None:
    _queue_job(database, waited_seconds=30)
    _queue_job(database, waited_seconds=-3600)  # not due for an hour: no backlog
    body = client.get("/ready").json()
    backlog = body["checks"]["job_backlog"]
    assert backlog["ok"] is True
    assert backlog["due_jobs"] == 1
    assert 30 <= backlog["oldest_wait_seconds"] < 600
    assert body["status"] == "ready"

    _queue_job(database, waited_seconds=601)  # no worker took it for ten minutes
    response = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["job_backlog"]
    backlog = body["checks"]["job_backlog"]
    assert backlog["due_jobs"] == 2
    assert backlog["oldest_wait_seconds"] >= 601
    assert "marketplace worker" in backlog["detail"]
    assert body["checks"]["database"]["ok"] is True
