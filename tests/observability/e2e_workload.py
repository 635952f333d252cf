"""The scripted workload of the monitoring end-to-end test, sent over real HTTP to ``marketplace serve``.

- ``browse(base_url, listing_id)``: anonymous page views (home, search, a listing, a vendor),
  API reads, and requests that fail as a user would make them fail: unknown paths (404, one
  ``unmatched`` route label however many), an unknown listing (404 on a route template), a
  missing token (401) and a bad body (422);
- ``EscrowRun``: one escrow order paid, shipped, confirmed and paid out on the session's regtest
  chain by the parties through the API, while the real worker (``marketplace worker``, its own
  process) does the rest. ``advance(until)`` mines one block per round until ``until()`` holds:
  bounded rounds, a failure names the order's state and jobs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from sqlalchemy import select

from marketplace.db.engine import Database
from marketplace.jobs.models import Job
from marketplace.monero.regtest import RegtestCluster
from marketplace.orders.models import Order, OrderState
from tests.support.monitoring import http_client

ROUND_S = 0.5  # between blocks: the worker polls every 0.1 s
MAX_ROUNDS = 240  # a step that needs more blocks than this is stuck


def browse(base_url: str, listing_id: int, vendor: str) -> dict[int, int]:
    """Page views and API calls of visitors, failures included; returns status → count."""
    statuses: dict[int, int] = {}
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/", {}),
        ("GET", "/?q=notebook", {}),
        ("GET", f"/listings/{listing_id}", {}),
        ("GET", f"/vendors/{vendor}", {}),
        ("GET", "/api/v1/listings", {}),
        ("GET", f"/api/v1/listings/{listing_id}", {}),
        ("GET", "/health", {}),
        ("GET", "/api/v1/listings/999999", {}),  # 404 on a known route
        ("GET", "/api/v1/orders", {}),  # 401: no token
        ("POST", "/api/v1/orders", {"json": {"listing_id": "x"}}),  # 401 or 422
    ]
    requests += [("GET", f"/no/such/page/{n}", {}) for n in range(20)]  # 404: unmatched
    with http_client() as client:
        for _ in range(3):
            for method, path, extra in requests:
                status = client.request(method, base_url + path, **extra).status_code
                statuses[status] = statuses.get(status, 0) + 1
    return statuses


@dataclass
class EscrowRun:
    """One escrow order carried to its payout: the buyer and vendor through the API, the worker on its own."""

    base_url: str
    database: Database
    regtest: RegtestCluster
    buyer_token: str
    vendor_token: str
    listing_id: int
    paid_atomic: int = 0  # what the buyer sent to the escrow

    def _client(self, token: str) -> httpx.Client:
        client = http_client(timeout_s=60.0)
        client.headers["Authorization"] = f"Bearer {token}"
        return client

    def call(self, token: str, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        with self._client(token) as client:
            response = client.request(method, self.base_url + path, json=body)
        assert response.status_code == expect, f"{method} {path}: HTTP {response.status_code} {response.text}"
        return response.json()

    def state(self, order_id: str) -> OrderState:
        with self.database.session() as session:
            return OrderState(session.scalar(select(Order.state).where(Order.id == order_id)))

    def jobs(self) -> list[tuple[str, str, int, str | None]]:
        with self.database.session() as session:
            return [(j.kind, j.state.value, j.attempts, j.last_error) for j in session.scalars(select(Job))]

    def advance(self, until: Callable[[], bool], what: str) -> int:
        """Mine a block per round until ``until()``; returns the blocks mined (bounded)."""
        for mined in range(MAX_ROUNDS):
            if until():
                return mined
            self.regtest.mine(1)
            time.sleep(ROUND_S)
        raise AssertionError(f"{what}: not done after {MAX_ROUNDS} blocks; jobs: {self.jobs()}")

    def reaches(self, order_id: str, state: OrderState) -> Callable[[], bool]:
        return lambda: self.state(order_id) is state

    def release(self, refund_address: str) -> str:
        """Place, pay, ship, confirm: the order ends completed, the vendor paid. Returns the order id."""
        order = self.call(
            self.buyer_token,
            "POST",
            "/api/v1/orders",
            {"listing_id": self.listing_id, "quantity": 1, "refund_address": refund_address},
            expect=201,
        )
        order_id = str(order["id"])
        self.advance(self.reaches(order_id, OrderState.AWAITING_PAYMENT), "the escrow's setup")
        escrow = self.call(self.buyer_token, "GET", f"/api/v1/orders/{order_id}")["escrow"]
        self.paid_atomic = int(escrow["amount_due_atomic"])
        self.regtest.pay(escrow["address"], self.paid_atomic)
        self.advance(self.reaches(order_id, OrderState.FUNDED), "the payment")
        self.call(self.vendor_token, "POST", f"/api/v1/orders/{order_id}/ship", {"note": "Tracked parcel."})
        self.call(self.buyer_token, "POST", f"/api/v1/orders/{order_id}/confirm", {}, expect=202)
        self.advance(self.reaches(order_id, OrderState.COMPLETED), "the payout")
        return order_id
