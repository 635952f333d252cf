"""The marketplace side of the escrow figures: the same two waits through the order API and the worker.

A real app (``create_app``) over a fresh SQLite database, the buyer and vendor speaking to the
JSON API with their tokens (in process, ``TestClient``), and ``marketplace worker``'s own
``Worker`` with the registry's handlers (in this process, so the time of each job is the time a
user waits; the worker's poll interval is not counted: it is a setting, not work). Against the
same regtest cluster as the raw side, with the same backup key.

1. **order placed → payment address**: from the buyer's ``POST /api/v1/orders`` (201) to the first
   ``GET /api/v1/orders/{id}`` that shows the escrow address, the worker running the setup job in
   between (three wallets created, the multisig made, stored, backed up with gpg).
2. **confirm → payout submitted**: on an order funded beforehand (not timed: paid, mined until its
   outputs unlock, recorded funded, shipped), from the buyer's ``POST .../confirm`` (202) until
   the payout attempt is recorded submitted.

RPC calls and wallet opens are the signers' own counters (``WalletSigner.calls`` / ``.opens``),
read before and after. Before each timed wait the worker runs every job due (not timed), so each
figure is what one order sees on a worker with nothing else to do.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from bench.escrow import MARKETPLACE_SIDE, PAYOUT, SETUP, EscrowStack, Run
from marketplace.accounts.models import Role, User
from marketplace.accounts.services import create_account
from marketplace.accounts.sessions import issue_api_token
from marketplace.db.engine import Database
from marketplace.db.migrate import upgrade
from marketplace.escrow.wallet_signer import WalletSigner
from marketplace.jobs import registry
from marketplace.jobs.worker import Worker
from marketplace.listings.models import Listing, ListingStatus
from marketplace.orders.models import EscrowPayout, Order, OrderState, PayoutState
from marketplace.runtime import Runtime, build_runtime
from marketplace.settings import load_settings
from marketplace.web.app import create_app

PRICE = 100_000_000_000  # 0.1 XMR
PASSWORD = "bench-password-long"  # noqa: S105  (throwaway accounts of a throwaway database)
MAX_JOBS = 2000
WAIT_SECONDS = 300


class _Market:
    """A marketplace of one buyer, one vendor and one listing, its worker, and the signers' counters."""

    def __init__(self, stack: EscrowStack, directory: Path) -> None:
        settings = load_settings(
            env="development",
            data_dir=directory,
            database_url=f"sqlite:///{directory / 'bench.sqlite3'}",
            payment_poll_seconds=0.5,  # a setup job waits behind no payment check
            max_unpaid_orders=1000,  # one buyer places every run's order
            **stack.settings_overrides(),
        )
        self.cluster = stack.cluster
        database = Database.from_settings(settings)
        upgrade(database.engine)
        self.runtime: Runtime = build_runtime(settings, database)
        self.app = create_app(settings, database=database)
        self.worker = Worker(database, registry.handlers(self.runtime), lease_seconds=300, poll_seconds=0)
        vendor_address = stack.cluster.new_personal_address()
        self.refund_address = stack.cluster.new_personal_address()
        with database.session() as session:
            buyer = create_account(session, username="benchbuyer", password=PASSWORD, role=Role.BUYER)
            vendor = create_account(session, username="benchvendor", password=PASSWORD, role=Role.VENDOR)
            session.execute(update(User).where(User.id == vendor.id).values(payout_address=vendor_address))
            listing = Listing(
                vendor_id=vendor.id,
                title="Bench notebook",
                description="For the escrow bench.",
                price_atomic=PRICE,
                stock=1000,
                category="books",
                status=ListingStatus.ACTIVE,
            )
            session.add(listing)
            session.flush()
            self.listing_id = listing.id
            self.buyer = self._client(issue_api_token(session, buyer, "bench"))
            self.vendor = self._client(issue_api_token(session, vendor, "bench"))

    def _client(self, token: str) -> TestClient:
        client = TestClient(self.app, base_url="https://testserver")
        client.headers["Authorization"] = f"Bearer {token}"
        return client

    def counters(self) -> tuple[int, int]:
        stack = self.runtime.escrow_stack()
        assert stack is not None
        signers = [signer for signer in stack.signers.values() if isinstance(signer, WalletSigner)]
        return sum(signer.calls for signer in signers), sum(signer.opens for signer in signers)

    def state(self, order_id: str) -> OrderState:
        with self.runtime.database.session() as session:
            return OrderState(session.scalar(select(Order.state).where(Order.id == order_id)))

    def work_until(self, done: Callable[[], bool], *, mine: bool = False) -> None:
        """Run the worker's due jobs until ``done()`` (mining a block whenever none is due, if asked)."""
        deadline = time.monotonic() + WAIT_SECONDS
        for _ in range(MAX_JOBS):
            if done():
                return
            if time.monotonic() > deadline:
                break
            if self.worker.run_once() is None:
                if mine:
                    self.cluster.mine(1)
                else:
                    time.sleep(0.05)
        raise RuntimeError(f"the worker did not get there in {MAX_JOBS} jobs or {WAIT_SECONDS} s")

    def drain(self) -> None:
        """Run every job due now (not timed): each wait is measured on a worker with nothing else to do."""
        for _ in range(MAX_JOBS):
            if self.worker.run_once() is None:
                return

    def place(self) -> str:
        body: dict[str, Any] = {"listing_id": self.listing_id, "quantity": 1, "refund_address": self.refund_address}
        response = self.buyer.post("/api/v1/orders", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"ordering failed: {response.status_code} {response.text}")
        return str(response.json()["id"])

    def address(self, order_id: str) -> str | None:
        escrow: dict[str, Any] = self.buyer.get(f"/api/v1/orders/{order_id}").json()["escrow"]
        address = escrow.get("address")
        return str(address) if address else None

    def submitted(self, order_id: str) -> bool:
        with self.runtime.database.session() as session:
            return (
                session.scalar(
                    select(EscrowPayout.id).where(
                        EscrowPayout.order_id == order_id, EscrowPayout.state == PayoutState.SUBMITTED
                    )
                )
                is not None
            )

    def close(self) -> None:
        for client in (self.buyer, self.vendor):
            client.close()
        self.runtime.close()


def _timed(market: _Market, start: Callable[[], None], until: Callable[[], bool]) -> Run:
    market.drain()
    calls, opens = market.counters()
    began = time.perf_counter()
    start()
    market.work_until(until)
    seconds = time.perf_counter() - began
    after_calls, after_opens = market.counters()
    # Opens are reported as ``create_wallet``/``open_wallet`` calls (the raw side's count).
    return Run(
        seconds=seconds,
        calls=Counter({"rpc": after_calls - calls - (after_opens - opens), "open_wallet": after_opens - opens}),
    )


def _shown(market: _Market, placed: list[str]) -> bool:
    return bool(placed) and market.address(placed[-1]) is not None


def measure_setup(stack: EscrowStack, runs: int) -> list[Run]:
    with tempfile.TemporaryDirectory(prefix="marketplace-bench-market-") as directory:
        market = _Market(stack, Path(directory))
        try:
            results = []
            for _ in range(runs):
                placed: list[str] = []
                results.append(
                    _timed(market, lambda placed=placed: placed.append(market.place()), partial(_shown, market, placed))
                )
            return results
        finally:
            market.close()


def measure_payout(stack: EscrowStack, runs: int) -> list[Run]:
    with tempfile.TemporaryDirectory(prefix="marketplace-bench-market-") as directory:
        market = _Market(stack, Path(directory))
        try:
            orders = []
            for _ in range(runs):  # not timed: placed, set up, paid
                order_id = market.place()
                market.work_until(lambda order_id=order_id: market.address(order_id) is not None)
                address = market.address(order_id)
                assert address is not None
                stack.cluster.pay(address, PRICE)
                orders.append(order_id)
            stack.cluster.mine(10)  # unlocked (10 blocks), and past the 2 confirmations
            for order_id in orders:
                market.work_until(lambda order_id=order_id: market.state(order_id) is OrderState.FUNDED, mine=True)
                response = market.vendor.post(f"/api/v1/orders/{order_id}/ship", json={})
                if response.status_code != 200:
                    raise RuntimeError(f"shipping failed: {response.status_code} {response.text}")
            results = []
            for order_id in orders:

                def confirm(order_id: str = order_id) -> None:
                    response = market.buyer.post(f"/api/v1/orders/{order_id}/confirm", json={})
                    if response.status_code != 202:
                        raise RuntimeError(f"confirming failed: {response.status_code} {response.text}")

                results.append(_timed(market, confirm, lambda order_id=order_id: market.submitted(order_id)))
            return results
        finally:
            market.close()


MARKETPLACE_SIDE[SETUP] = measure_setup
MARKETPLACE_SIDE[PAYOUT] = measure_payout
