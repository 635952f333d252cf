"""The worker records each dependency's health; ``/ready`` reads that record and never calls a wallet or monerod."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.jobs.health import MONEROD, HealthCheck, expected_services, record_health, signer_service_name
from marketplace.jobs.worker import Worker
from marketplace.settings import Settings
from tests.support.client import SiteClient

BUYER_URLS = ("http://127.0.0.1:18091", "http://127.0.0.1:18092")
VENDOR_URL = "http://127.0.0.1:18093"
ARBITER_URL = "http://127.0.0.1:18094"
STALE_SECONDS = 90
ESCROW_ON: dict[str, Any] = {
    # Nothing listens on these ports: /ready must not call them, only read what the worker recorded.
    "monerod_url": "http://127.0.0.1:18081",
    "signer_buyer_urls": ",".join(BUYER_URLS),
    "signer_vendor_urls": VENDOR_URL,
    "signer_arbiter_urls": ARBITER_URL,
    "signer_buyer_login": "buyer:3f1c9e0b7d2a4c6e8f1a3b5d7c9e0f2a",
    "wallet_master_key": "6c0b1e9d4f7a2c5e8b3d6f9a1c4e7b0d2f5a8c1e4b7d0a3f6c9e2b5d8a1f4c7e",
    "backup_gpg_recipient": "backups@marketplace.example",
    "health_stale_seconds": STALE_SECONDS,
}
SERVICES = [
    MONEROD,
    signer_service_name("buyer", BUYER_URLS[0]),
    signer_service_name("buyer", BUYER_URLS[1]),
    signer_service_name("vendor", VENDOR_URL),
    signer_service_name("arbiter", ARBITER_URL),
]

escrow_on = pytest.mark.parametrize("settings_overrides", [ESCROW_ON])


def _record(database: Database, name: str, *, ok: bool = True, age_seconds: float = 0.0, detail: str = "") -> None:
    with database.session() as db:
        record_health(db, name, ok=ok, detail=detail, latency_ms=3.5, now=utcnow() - timedelta(seconds=age_seconds))


def test_with_escrow_off_ready_says_so_names_what_is_missing_and_stays_ready(client: SiteClient) -> None:
    response = client.get("/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["escrow"]["enabled"] is False
    assert body["escrow"]["missing"] == [
        "MARKETPLACE_MONEROD_URL",
        "MARKETPLACE_SIGNER_BUYER_URLS",
        "MARKETPLACE_SIGNER_VENDOR_URLS",
        "MARKETPLACE_SIGNER_ARBITER_URLS",
    ]
    assert "MARKETPLACE_MONEROD_URL" in body["escrow"]["message"]
    assert list(body["checks"]) == ["database", "job_backlog"]


@escrow_on
def test_the_settings_name_every_dependency_escrow_needs(settings: Settings) -> None:
    assert expected_services(settings) == SERVICES


@escrow_on
def test_with_escrow_on_a_dependency_never_checked_makes_ready_fail(client: SiteClient, database: Database) -> None:
    _record(database, MONEROD)

    response = client.get("/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["escrow"]["enabled"] is True
    assert body["failing"] == SERVICES[1:]
    assert body["checks"][SERVICES[1]]["checked_at"] is None
    assert "marketplace worker" in body["checks"][SERVICES[1]]["detail"]
    assert body["checks"][MONEROD]["ok"] is True


@escrow_on
def test_with_escrow_on_every_recent_check_passed_means_ready(
    client: SiteClient, database: Database, settings: Settings
) -> None:
    probed: list[int] = []

    def probe() -> list[HealthCheck]:
        probed.append(1)
        return [HealthCheck(name, ok=True, detail="0.18.0.0", latency_ms=2.0) for name in expected_services(settings)]

    recorded = Worker(database, {}, worker_id="w1", probe=probe).probe_once()

    response = client.get("/ready")
    assert (recorded, len(probed)) == (5, 1)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["failing"] == []
    assert list(body["checks"]) == ["database", "job_backlog", *SERVICES]
    for name in SERVICES:
        check = body["checks"][name]
        assert check["ok"] is True
        assert check["detail"] == "0.18.0.0"
        assert check["latency_ms"] == 2.0
        assert 0 <= check["age_seconds"] <= STALE_SECONDS


@escrow_on
def test_with_escrow_on_a_failed_check_makes_ready_fail_with_its_detail(client: SiteClient, database: Database) -> None:
    for name in SERVICES:
        _record(database, name, ok=False, detail="previous failure")
        _record(database, name)  # the newest check replaces the one before
    _record(database, SERVICES[3], ok=False, detail="RpcUnavailable: connection refused")

    response = client.get("/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == [SERVICES[3]]
    assert body["checks"][SERVICES[3]]["detail"] == "RpcUnavailable: connection refused"
    assert body["checks"][SERVICES[2]]["ok"] is True


@escrow_on
def test_with_escrow_on_a_check_older_than_the_limit_makes_ready_fail(client: SiteClient, database: Database) -> None:
    for name in SERVICES:
        _record(database, name, age_seconds=STALE_SECONDS - 30)
    _record(database, MONEROD, age_seconds=STALE_SECONDS + 30)

    response = client.get("/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == [MONEROD]
    assert body["checks"][MONEROD]["stale"] is True
    assert body["checks"][MONEROD]["age_seconds"] >= STALE_SECONDS + 30
    assert "is `marketplace worker` running?" in body["checks"][MONEROD]["detail"]
