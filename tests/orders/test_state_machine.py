"""A hypothesis state machine over every transition of ``orders/states.py``, checking the invariants.

Random sequences of everything the parties, the arbiters, the worker and the deadlines can do to a
few orders, at a clock the test moves (windows of minutes), on SQLite and PostgreSQL. After every
step, for every order:

- the history is a chain: it starts None → placed, each row starts where the previous one ended,
  and the last ends in the order's state; its transitions are exactly the calls that succeeded;
- an order that ended never changes state again;
- at most one settling payout is ever asked for (one ``escrow.payout`` job with a settling
  purpose), and its outcome never changes once set;
- the listing's stock plus the units every order holds is the stock the listing started with
  (units come back exactly when an order ends without a sale).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from marketplace.accounts.models import Role, User
from marketplace.db.base import utcnow
from marketplace.db.engine import Database
from marketplace.errors import MarketplaceError
from marketplace.jobs.models import Job
from marketplace.listings.models import Listing
from marketplace.orders import states
from marketplace.orders.models import END_STATES, EventActor, Order, OrderEvent, OrderState, Outcome, PayoutPurpose
from marketplace.settings import Settings, SignerRole
from tests.orders.conftest import VENDOR_ADDRESS
from tests.support.escrow import ESCROW_SETTINGS
from tests.support.factories import MAINNET_ADDRESS, create_user, insert_listing

STOCK = 200
MAX_ORDERS = 3  # per example: the buyer's limit of unpaid orders
WINDOW = 600  # seconds: every window of these orders
SETTLING = {"release", "refund", "split"}
# Orders that end without a sale give their units back; a refund decision too.
NO_SALE = {OrderState.CANCELLED, OrderState.DECLINED, OrderState.EXPIRED, OrderState.REFUNDED}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        **ESCROW_SETTINGS,
        "confirmations": 2,
        "payment_window_seconds": WINDOW,
        "ship_window_seconds": WINDOW,
        "finalize_window_seconds": WINDOW,
    }


class OrderMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self, database: Database, settings: Settings) -> None:
        super().__init__()
        self.database = database
        self.settings = settings
        self.now = utcnow()
        self.buyer = create_user(database, Role.BUYER)
        vendor = create_user(database, Role.VENDOR)
        with database.session() as session:
            session.execute(update(User).where(User.id == vendor.id).values(payout_address=VENDOR_ADDRESS))
        self.vendor = vendor
        self.arbiters = [create_user(database, Role.ARBITER), create_user(database, Role.ARBITER)]
        self.listing = insert_listing(database, vendor, stock=STOCK, price_atomic=10**12)
        self.transitions: dict[str, int] = {}  # successful state changes per order
        self.ended: dict[str, OrderState] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.paid: dict[str, int] = {}
        self.placed = 0

    # --- helpers ------------------------------------------------------------------------

    def _run(self, order_id: str, call: Callable[[Session], Any]) -> Any:
        """Run ``call`` in one transaction; count a state change; a refusal changes nothing."""
        before = self._state(order_id)
        try:
            with self.database.session() as session:
                result = call(session)
        except MarketplaceError:
            assert self._state(order_id) is before
            return None
        if self._state(order_id) is not before:
            self.transitions[order_id] += 1
        return result

    def _state(self, order_id: str) -> OrderState:
        with self.database.session() as session:
            return OrderState(session.scalar(select(Order.state).where(Order.id == order_id)))

    def _actor(self, who: str) -> states.Actor:
        if who == "buyer":
            return states.Actor(EventActor.BUYER, self.buyer.id)
        if who == "vendor":
            return states.Actor(EventActor.VENDOR, self.vendor.id)
        return states.Actor(EventActor.ARBITER, self.arbiters[int(who[-1])].id)

    # --- the parties ----------------------------------------------------------------------

    @initialize(target=orders, quantity=st.integers(1, 3))
    def first_order(self, quantity: int) -> str:
        return self.place(quantity)

    @precondition(lambda self: self.placed < MAX_ORDERS)
    @rule(target=orders, quantity=st.integers(1, 3))
    def place(self, quantity: int) -> str:
        request = states.NewOrder(listing_id=self.listing.id, quantity=quantity, refund_address=MAINNET_ADDRESS)
        with self.database.session() as session:
            buyer = session.get(User, self.buyer.id)
            assert buyer is not None
            order_id = states.place(session, self.settings, buyer, request, self.now)
        self.transitions[order_id] = 1
        self.paid[order_id] = 0
        self.placed += 1
        return order_id

    def ship(self, order: str, note: str | None) -> None:
        self._run(order, lambda db: states.ship(db, order, self._actor("vendor"), self.now, note=note))

    def confirm(self, order: str, who: str) -> None:
        self._run(order, lambda db: states.confirm(db, order, self._actor(who), self.now))

    def cancel(self, order: str, who: str, withdraw: bool) -> None:
        self._run(order, lambda db: states.cancel(db, order, self._actor(who), self.now, withdraw=withdraw))

    def decline(self, order: str) -> None:
        self._run(order, lambda db: states.decline(db, order, self._actor("vendor"), self.now))

    def dispute(self, order: str, who: str) -> None:
        self._run(order, lambda db: states.dispute(db, order, self._actor(who), self.now, reason="It broke."))

    def claim(self, order: str, who: str) -> None:
        self._run(order, lambda db: states.claim_dispute(db, order, self._actor(who), self.now))

    def decide(self, order: str, who: str, outcome: str, share: int | None) -> None:
        self._run(
            order,
            lambda db: states.decide(
                db, order, self._actor(who), self.now, outcome=outcome, buyer_share_atomic=share, reason="Decided."
            ),
        )

    # --- the worker and the clock -------------------------------------------------------

    def escrow_ready(self, order: str) -> None:
        self._run(order, lambda db: states.escrow_ready(db, order, states.WORKER, self.now, address=f"escrow-{order}"))

    def payment(self, order: str, amount: int, confirmations: int) -> None:
        self.paid[order] += 1
        seen = [
            states.SeenPayment(txid=f"{order}{index:032x}", amount_atomic=amount or 1, confirmations=confirmations)
            for index in range(self.paid[order])
        ]
        self._run(
            order,
            lambda db: states.record_payments(
                db, order, states.WORKER, self.now, payments=seen, height=self.paid[order]
            ),
        )

    def payment_in_full(self, order: str) -> None:
        """The amount due arrives with the confirmations it needs (on top of what arrived before)."""
        with self.database.session() as session:
            due = session.scalar(select(Order.amount_atomic).where(Order.id == order))
        self.paid[order] += 1
        seen = [
            states.SeenPayment(txid=f"{order}{index:032x}", amount_atomic=due or 1, confirmations=2)
            for index in range(self.paid[order])
        ]
        self._run(
            order,
            lambda db: states.record_payments(
                db, order, states.WORKER, self.now, payments=seen, height=self.paid[order]
            ),
        )

    def deadline(self, order: str, deadline: str) -> None:
        self._run(order, lambda db: states.on_deadline(db, order, states.DEADLINE, self.now, deadline=deadline))

    @rule(seconds=st.sampled_from([1, WINDOW // 2, WINDOW, 2 * WINDOW]))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    def payout(self, order: str, confirmations: int) -> None:
        """The payout handler: sign, save, submit and watch the payout the order's job asks for."""
        with self.database.session() as session:
            job = session.scalars(
                select(Job).where(Job.order_id == order, Job.kind == states.PAYOUT_JOB).order_by(Job.id.desc())
            ).first()
        if job is None:
            return
        purpose = PayoutPurpose(job.payload["purpose"])
        proposer, cosigner = (SignerRole(role) for role in job.payload["signers"])

        def pay(db: Session) -> Any:
            payout_id = states.payout_signed(
                db,
                order,
                states.WORKER,
                self.now,
                purpose=purpose,
                proposer=proposer,
                cosigner=cosigner,
                destinations=[{"role": "buyer", "address": MAINNET_ADDRESS, "amount_atomic": 1}],
                network_fee_atomic=1,
                signed_tx_hex="00",
                txids=[f"{order}{'f' * 32}"],
                key_images=["e" * 64],
            )
            states.payout_submitted(db, payout_id, states.WORKER, self.now)
            return states.payout_confirmed(db, payout_id, states.WORKER, self.now, confirmations=confirmations)

        self._run(order, pay)

    # --- what happens to an order: any action at random, or the next step of a path ----------

    @rule(
        order=orders,
        action=st.sampled_from(["ship", "confirm", "cancel", "withdraw", "decline", "dispute", "claim", "decide"]),
        who=st.sampled_from(["buyer", "vendor", "arbiter0", "arbiter1"]),
        outcome=st.sampled_from(["release", "refund", "split", "nonsense"]),
        share=st.none() | st.integers(0, 4 * 10**12),
    )
    def someone_acts(self, order: str, action: str, who: str, outcome: str, share: int | None) -> None:
        if action == "ship":
            self.ship(order, "Tracking 1")
        elif action == "confirm":
            self.confirm(order, who)
        elif action in ("cancel", "withdraw"):
            self.cancel(order, "buyer" if who.startswith("arbiter") else who, withdraw=action == "withdraw")
        elif action == "decline":
            self.decline(order)
        elif action == "dispute":
            self.dispute(order, "vendor" if who == "vendor" else "buyer")
        elif action == "claim":
            self.claim(order, who if who.startswith("arbiter") else "arbiter0")
        else:
            self.decide(order, who if who.startswith("arbiter") else "arbiter1", outcome, share)

    @rule(
        order=orders,
        action=st.sampled_from(["ready", "payment", "payment_deadline", "finalize_deadline", "payout"]),
        amount=st.sampled_from([0, 10**11, 10**12, 3 * 10**12]),
        confirmations=st.integers(0, 3),
    )
    def the_worker_acts(self, order: str, action: str, amount: int, confirmations: int) -> None:
        if action == "ready":
            self.escrow_ready(order)
        elif action == "payment":
            self.payment(order, amount, confirmations)
        elif action.endswith("_deadline"):
            self.deadline(order, action.removesuffix("_deadline"))
        else:
            self.payout(order, confirmations)

    @rule(order=orders, choice=st.integers(0, 5), share=st.integers(0, 10**12))
    def the_order_moves_on(self, order: str, choice: int, share: int) -> None:
        """The next step of one of the paths from where the order is (so that long paths are walked)."""
        state = self._state(order)
        if state is OrderState.PLACED:
            self.escrow_ready(order)
        elif state is OrderState.AWAITING_PAYMENT:
            self.payment_in_full(order)
        elif state is OrderState.FUNDED:
            [
                self.ship,
                lambda o, _c: self.confirm(o, "buyer"),
                lambda o, _c: self.cancel(o, "vendor", withdraw=False),
                lambda o, _c: self.cancel(o, "buyer", withdraw=False),
                lambda o, _c: self.dispute(o, "buyer"),
                lambda o, _c: self.dispute(o, "vendor"),
            ][choice](order, "sent")
        elif state is OrderState.SHIPPED:
            [
                lambda o: self.confirm(o, "buyer"),
                lambda o: self.dispute(o, "vendor"),
                lambda o: self.deadline(o, "finalize"),
                lambda o: self.time_passes(WINDOW),
                lambda o: self.cancel(o, "vendor", withdraw=False),
                lambda o: self.cancel(o, "buyer", withdraw=False),
            ][choice](order)
        elif state is OrderState.DISPUTED:
            self.decide(
                order,
                f"arbiter{choice % 2}",
                ["release", "refund", "split"][choice % 3],
                share if choice % 3 == 2 else None,
            )
        elif state is OrderState.PAYING_OUT:
            self.payout(order, 2 + choice % 2)

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def histories_are_chains_of_the_transitions_made(self) -> None:
        with self.database.session() as session:
            for order_id, made in self.transitions.items():
                events = list(
                    session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id))
                )
                state = OrderState(session.scalar(select(Order.state).where(Order.id == order_id)))
                assert (events[0].from_state, events[0].to_state) == (None, OrderState.PLACED)
                for previous, event in pairwise(events):
                    assert event.from_state is previous.to_state, (previous.to_state, event.from_state)
                assert events[-1].to_state is state
                assert sum(1 for event in events if event.from_state is not event.to_state) == made

    @invariant()
    def ended_orders_never_change(self) -> None:
        for order_id in self.transitions:
            state = self._state(order_id)
            if order_id in self.ended:
                assert state is self.ended[order_id]
            elif state in END_STATES:
                self.ended[order_id] = state

    @invariant()
    def at_most_one_settling_payout(self) -> None:
        with self.database.session() as session:
            for order_id in self.transitions:
                jobs = session.scalars(select(Job).where(Job.order_id == order_id, Job.kind == states.PAYOUT_JOB))
                assert sum(1 for job in jobs if job.payload["purpose"] in SETTLING) <= 1
                outcome = session.scalar(select(Order.payout_outcome).where(Order.id == order_id))
                if outcome is not None:
                    assert self.outcomes.setdefault(order_id, outcome) is outcome

    @invariant()
    def units_are_held_or_back_in_stock(self) -> None:
        with self.database.session() as session:
            rows = session.execute(
                select(Order.state, Order.quantity, Order.payout_outcome).where(Order.listing_id == self.listing.id)
            ).all()
            stock = session.scalar(select(Listing.stock).where(Listing.id == self.listing.id))
        held = sum(
            quantity
            for state, quantity, outcome in rows
            if not (state in NO_SALE or (state is OrderState.RESOLVED and outcome is Outcome.REFUND))
        )
        assert stock == STOCK - held


def test_the_state_machine_keeps_its_invariants(database: Database, settings: Settings) -> None:
    run_state_machine_as_test(
        lambda: OrderMachine(database, settings),
        settings=hypothesis_settings(
            max_examples=30,
            stateful_step_count=50,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
