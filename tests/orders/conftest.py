"""A small market for order tests: a buyer, a vendor with a payout address, arbiters, a listing,
and the worker's side of the state machine called directly (``states.py``), as the job handlers will.

Escrow is configured through settings (``ESCROW_SETTINGS``: the URLs need not answer, the web
process never calls them). Times are real: windows are shortened through the settings, and the
worker-side functions are given the ``now`` a test chooses (a deadline is decided by the order's
timestamps, never by when a job runs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from marketplace.accounts.models import Role, User
from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.jobs.models import Job
from marketplace.listings.models import Listing
from marketplace.monero.regtest import RegtestCluster
from marketplace.orders import states
from marketplace.orders.models import Order, OrderEvent, OrderState
from marketplace.runtime import build_runtime
from marketplace.settings import Settings
from tests.orders.escrow_chain import Chain
from tests.support.escrow import ESCROW_SETTINGS
from tests.support.factories import MAINNET_ADDRESS, Person

# Another real mainnet address (the vendor's payout address; MAINNET_ADDRESS is the buyer's refund one).
VENDOR_ADDRESS = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
PRICE = 250_000_000_000  # 0.25 XMR, the listing's unit price
CONFIRMATIONS = 2


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {**ESCROW_SETTINGS, "confirmations": CONFIRMATIONS}


@dataclass
class Market:
    database: Database
    settings: Settings
    buyer: Person
    vendor: Person
    arbiter: Person
    other_arbiter: Person
    listing: Listing
    make_person: Callable[[Role], Person]

    # --- the buyer's side, through the API ------------------------------------------------

    def order_body(self, **overrides: Any) -> dict[str, Any]:
        return {"listing_id": self.listing.id, "quantity": 1, "refund_address": MAINNET_ADDRESS, **overrides}

    def place(self, buyer: Person | None = None, **overrides: Any) -> str:
        response = (buyer or self.buyer).client.post("/api/v1/orders", json=self.order_body(**overrides))
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def get(self, order_id: str, person: Person | None = None) -> dict[str, Any]:
        response = (person or self.buyer).client.get(f"/api/v1/orders/{order_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def state(self, order_id: str) -> OrderState:
        with self.database.session() as session:
            return OrderState(session.scalar(select(Order.state).where(Order.id == order_id)))

    def post(self, person: Person, order_id: str, action: str, body: dict[str, Any] | None = None) -> Any:
        return person.client.post(f"/api/v1/orders/{order_id}/{action}", json=body)

    # --- the worker's side, called directly ----------------------------------------------

    def worker(self, call: Callable[..., Any], order_id: str, now: datetime | None = None, **arguments: Any) -> Any:
        with self.database.session() as session:
            return call(session, order_id, states.WORKER, now or utcnow(), **arguments)

    def deadline(self, order_id: str, deadline: str, now: datetime | None = None) -> states.DeadlineResult:
        """What the ``escrow.deadline`` job does, run at ``now``."""
        with self.database.session() as session:
            return states.on_deadline(session, order_id, states.DEADLINE, now or utcnow(), deadline=deadline)

    def ready(self, order_id: str, now: datetime | None = None) -> None:
        self.worker(states.escrow_ready, order_id, now, address=escrow_address(order_id))

    def pay(
        self, order_id: str, *amounts: int, confirmations: int | None = None, now: datetime | None = None
    ) -> OrderState:
        """The escrow holds these payments now (with the confirmations each needs, unless told)."""
        seen = self.settings.confirmations if confirmations is None else confirmations
        payments = [
            states.SeenPayment(txid=txid(order_id, index), amount_atomic=amount, confirmations=seen)
            for index, amount in enumerate(amounts)
        ]
        result: OrderState = self.worker(states.record_payments, order_id, now, payments=payments, height=100)
        return result

    def fund(self, order_id: str, amount: int | None = None) -> None:
        self.ready(order_id)
        assert self.pay(order_id, amount or self.amount(order_id)) is OrderState.FUNDED

    def funded_order(self, **overrides: Any) -> str:
        order_id = self.place(**overrides)
        self.fund(order_id)
        return order_id

    def shipped_order(self) -> str:
        order_id = self.funded_order()
        response = self.post(self.vendor, order_id, "ship", {"note": "Sent by post."})
        assert response.status_code == 200, response.text
        return order_id

    def disputed_order(self) -> str:
        order_id = self.funded_order()
        response = self.post(self.buyer, order_id, "dispute", {"reason": "Nothing arrived."})
        assert response.status_code == 200, response.text
        return order_id

    def amount(self, order_id: str) -> int:
        with self.database.session() as session:
            return int(session.scalar(select(Order.amount_atomic).where(Order.id == order_id)) or 0)

    def order(self, order_id: str) -> Order:
        with self.database.session() as session:
            order = session.get(Order, order_id)
            assert order is not None
            return order

    def jobs(self, order_id: str, kind: str | None = None) -> list[Job]:
        with self.database.session() as session:
            statement = select(Job).where(Job.order_id == order_id).order_by(Job.id)
            if kind is not None:
                statement = statement.where(Job.kind == kind)
            return list(session.scalars(statement))

    def events(self, order_id: str) -> list[OrderEvent]:
        with self.database.session() as session:
            return list(
                session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id))
            )

    def stock(self) -> int:
        with self.database.session() as session:
            return int(session.scalar(select(Listing.stock).where(Listing.id == self.listing.id)) or 0)

    def set_time(self, order_id: str, **moments: datetime) -> None:
        """Move an order's stored timestamps (funded_at, shipped_at, payment_deadline...) into the past."""
        with self.database.session() as session:
            session.execute(update(Order).where(Order.id == order_id).values(**moments))

    def count(self, model: type[Any]) -> int:
        with self.database.session() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


def escrow_address(order_id: str) -> str:
    """A stand-in for the escrow's address (the worker's; never validated, never paid in these tests)."""
    return f"escrow-{order_id}"


def txid(order_id: str, index: int) -> str:
    return f"{order_id}{index:032x}"


def ago(seconds: float) -> datetime:
    return utcnow() - timedelta(seconds=seconds)


@pytest.fixture
def market(
    database: Database,
    settings: Settings,
    make_user: Callable[..., User],
    sign_in_as: Callable[[User], Person],
    make_listing: Callable[..., Listing],
) -> Market:
    def make_person(role: Role) -> Person:
        return sign_in_as(make_user(role))

    vendor = make_person(Role.VENDOR)
    with database.session() as session:
        session.execute(update(User).where(User.id == vendor.user.id).values(payout_address=VENDOR_ADDRESS))
    return Market(
        database=database,
        settings=settings,
        buyer=make_person(Role.BUYER),
        vendor=vendor,
        arbiter=make_person(Role.ARBITER),
        other_arbiter=make_person(Role.ARBITER),
        listing=make_listing(vendor=vendor.user, price_atomic=PRICE, stock=5),
        make_person=make_person,
    )


# --- the real chain (regtest tests only; these fixtures start nothing until a test asks) --------


@pytest.fixture
def chains(regtest: RegtestCluster, market: Market) -> Iterator[Callable[[], Chain]]:
    """Start a worker for the test (a fresh runtime each time: a restarted worker knows nothing of the last)."""
    started: list[Chain] = []

    def start() -> Chain:
        started.append(Chain.start(regtest, build_runtime(market.settings, market.database)))
        return started[-1]

    yield start
    for chain in started:
        chain.close()


@pytest.fixture
def chain(chains: Callable[[], Chain]) -> Chain:
    """The test's worker on the session's regtest chain (``escrow_chain.Chain``)."""
    return chains()


@pytest.fixture
def vendor_address(regtest: RegtestCluster, market: Market) -> str:
    """A real payee address as the vendor's payout address (set before any order fixes it in its terms)."""
    address = regtest.new_personal_address()
    with market.database.session() as session:
        session.execute(update(User).where(User.id == market.vendor.user.id).values(payout_address=address))
    return address


@pytest.fixture
def addresses(regtest: RegtestCluster, vendor_address: str) -> dict[str, str]:
    """Real payee addresses: the vendor's payout address (set on the market) and one for the buyer's refunds."""
    return {"vendor": vendor_address, "buyer": regtest.new_personal_address()}
