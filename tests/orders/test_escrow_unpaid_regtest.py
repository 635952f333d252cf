"""The paths where the buyer does not pay exactly what is due, carried to their confirmed end on regtest.

Underpayment (the order shows what is missing, waits, expires, and what arrived goes back),
overpayment (the excess goes back in the vendor's payout, one transaction), and the unfunded
ends (cancelled, declined, expired) with a payment that arrives after the order ended. Real
monerod and monero-wallet-rpc, real signers and backups, the parties through the API and the
real worker (``escrow_chain.Chain``); windows are shortened through the settings, never a fake
clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from marketplace.db.base import utcnow
from marketplace.escrow import money
from marketplace.jobs.models import Job, JobState
from marketplace.monero.regtest import RegtestCluster
from marketplace.orders.models import EscrowPayout, OrderState, PayoutPurpose, PayoutState
from marketplace.settings import SignerRole
from tests.orders.conftest import Market
from tests.orders.escrow_chain import Chain, confirmed_payouts, payouts, wait_until

DAY = 24 * 3600
STOCK = 5  # the market's listing


@pytest.fixture
def payment_window_seconds() -> int:
    """The payment window of the test's orders; a test shortens it by parametrizing this name."""
    return DAY


@pytest.fixture
def settings_overrides(escrow_settings: dict[str, Any], payment_window_seconds: int) -> dict[str, Any]:
    return {**escrow_settings, "payment_poll_seconds": 0, "payment_window_seconds": payment_window_seconds}


def _failed_jobs(market: Market) -> list[tuple[str, str | None]]:
    with market.database.session() as session:
        return [(job.kind, job.last_error) for job in session.scalars(select(Job).where(Job.state == JobState.FAILED))]


def _history(body: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(event["from_state"], event["to_state"]) for event in body["history"]]


def _txids_at(regtest: RegtestCluster, address: str) -> set[str]:
    """The transactions that paid ``address`` (a payee subaddress), mined."""
    regtest.payee.refresh()
    return {transfer.txid for transfer in regtest.payee.get_transfers(incoming=True) if transfer.address == address}


def _ready(market: Market, chain: Chain, order_id: str) -> dict[str, Any]:
    """Run the worker until the escrow's address is shown; the order as its buyer sees it then."""
    chain.run(lambda: market.state(order_id) is OrderState.AWAITING_PAYMENT, what="setup")
    return market.get(order_id)


def _returned(market: Market, order_id: str) -> bool:
    return any(payout.purpose is PayoutPurpose.RETURN for payout in confirmed_payouts(market.database, order_id))


def _assert_one_return(
    market: Market, regtest: RegtestCluster, order_id: str, *, paid: int, refund_address: str
) -> EscrowPayout:
    """Exactly one confirmed payout, a return of everything paid to the buyer, signed by buyer + arbiter."""
    (payout,) = confirmed_payouts(market.database, order_id)
    assert payout.purpose is PayoutPurpose.RETURN
    assert (payout.proposer, payout.cosigner) == (SignerRole.BUYER, SignerRole.ARBITER)
    assert payout.destinations == [
        {"role": "buyer", "address": refund_address, "amount_atomic": paid - payout.network_fee_atomic}
    ]
    assert 0 < payout.network_fee_atomic < paid
    assert regtest.received(refund_address) == paid - payout.network_fee_atomic  # the escrow is empty
    shown = market.get(order_id)["escrow"]["payouts"]
    assert [(item["purpose"], item["state"], item["txids"]) for item in shown if item["state"] == "confirmed"] == [
        ("return", "confirmed", payout.txids)
    ]
    return payout


# --- underpayment ------------------------------------------------------------------------------


@pytest.mark.parametrize("payment_window_seconds", [25])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_underpaid_order_shows_what_is_missing_then_expires_and_returns_what_arrived(
    market: Market, chain: Chain, regtest: RegtestCluster, addresses: dict[str, str]
) -> None:
    order_id = market.place(refund_address=addresses["buyer"])
    assert market.stock() == STOCK - 1
    escrow = _ready(market, chain, order_id)["escrow"]
    due = escrow["amount_due_atomic"]
    paid = due * 2 // 5  # 0.1 XMR of 0.25

    regtest.pay(escrow["address"], paid)
    chain.run(lambda: market.get(order_id)["escrow"]["received_atomic"] == paid, what="the part payment")

    waiting = market.get(order_id)
    assert waiting["state"] == "awaiting_payment"  # still before the window's end: it keeps waiting
    assert waiting["escrow"]["amount_due_atomic"] == due
    assert waiting["escrow"]["received_atomic"] == paid
    assert waiting["escrow"]["missing_atomic"] == due - paid
    assert [payment["amount_atomic"] for payment in waiting["escrow"]["payments"]] == [paid]
    assert datetime.fromisoformat(waiting["escrow"]["expires_at"]) > utcnow()

    wait_until(datetime.fromisoformat(waiting["escrow"]["expires_at"]))
    chain.run(lambda: _returned(market, order_id), what="the return of the part payment")

    assert market.state(order_id) is OrderState.EXPIRED
    payout = _assert_one_return(market, regtest, order_id, paid=paid, refund_address=addresses["buyer"])
    assert regtest.received(addresses["vendor"]) == 0
    assert market.stock() == STOCK
    ended = market.get(order_id)
    assert _history(ended) == [
        (None, "placed"),
        ("placed", "awaiting_payment"),
        ("awaiting_payment", "expired"),
        ("expired", "expired"),
    ]
    expiry, returned = ended["history"][2:]
    assert expiry["actor"] == "deadline"
    assert expiry["reason"] == "The payment window ended with 0.15 XMR missing."
    assert returned["txids"] == payout.txids
    assert ended["escrow"]["expires_at"] is None
    assert _failed_jobs(market) == []


# --- overpayment -------------------------------------------------------------------------------


@pytest.mark.parametrize("payment_window_seconds", [20])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_overpaid_order_sends_the_excess_back_in_the_same_payout_as_the_vendors_part(
    market: Market, chain: Chain, regtest: RegtestCluster, addresses: dict[str, str]
) -> None:
    order_id = market.place(refund_address=addresses["buyer"])
    escrow = _ready(market, chain, order_id)["escrow"]
    due = escrow["amount_due_atomic"]
    paid = due + 30_000_000_000  # 0.03 XMR too much

    # Paid and mined before the payment window ends, its second confirmation only after: it counts.
    regtest.pay(escrow["address"], paid)
    chain.run(lambda: market.get(order_id)["escrow"]["pending_atomic"] == paid, what="the payment's first block")
    confirming = market.get(order_id)
    assert (confirming["state"], confirming["escrow"]["received_atomic"]) == ("awaiting_payment", 0)
    expires_at = datetime.fromisoformat(confirming["escrow"]["expires_at"])
    assert expires_at > utcnow()
    wait_until(expires_at)
    chain.run(lambda: market.state(order_id) is OrderState.FUNDED, what="funding")
    funded = market.get(order_id)
    assert datetime.fromisoformat(funded["funded_at"]) > expires_at
    assert funded["escrow"]["received_atomic"] == paid
    assert funded["escrow"]["missing_atomic"] == 0
    assert market.post(market.buyer, order_id, "confirm", {}).status_code == 202
    chain.run(lambda: market.state(order_id) is OrderState.COMPLETED, what="release")

    (payout,) = confirmed_payouts(market.database, order_id)
    assert payout.purpose is PayoutPurpose.RELEASE
    assert (payout.proposer, payout.cosigner) == (SignerRole.BUYER, SignerRole.VENDOR)
    terms = money.PayoutTerms(
        due_atomic=due,
        fee_basis_points=0,
        buyer_address=addresses["buyer"],
        vendor_address=addresses["vendor"],
        fee_address=None,
    )
    planned = money.plan_payout(
        terms, money.Outcome.RELEASE, received_atomic=paid, network_fee_atomic=payout.network_fee_atomic
    )
    to_vendor = planned.amount_to(money.Role.VENDOR)
    to_buyer = planned.amount_to(money.Role.BUYER)
    assert payout.destinations == [
        {"role": "buyer", "address": addresses["buyer"], "amount_atomic": to_buyer},
        {"role": "vendor", "address": addresses["vendor"], "amount_atomic": to_vendor},
    ]
    # The network fee is shared in proportion: the vendor, the larger part, pays the rest of it.
    assert to_buyer == paid - due - payout.network_fee_atomic * (paid - due) // paid
    assert to_vendor + to_buyer + payout.network_fee_atomic == paid  # the escrow is empty
    assert regtest.received(addresses["vendor"]) == to_vendor
    assert regtest.received(addresses["buyer"]) == to_buyer
    # One transaction, two destinations.
    assert len(payout.txids) == 1
    assert _txids_at(regtest, addresses["vendor"]) == _txids_at(regtest, addresses["buyer"]) == set(payout.txids)
    assert len(payouts(market.database, order_id)) == 1 or all(
        other.state is PayoutState.SUPERSEDED for other in payouts(market.database, order_id) if other.id != payout.id
    )
    ended = market.get(order_id)
    assert [event["to_state"] for event in ended["history"]] == [
        "placed",
        "awaiting_payment",
        "funded",
        "paying_out",
        "completed",
    ]
    assert ended["history"][-1]["txids"] == payout.txids
    assert market.stock() == STOCK - 1  # sold
    assert _failed_jobs(market) == []


# --- unfunded ----------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_payment_that_arrives_after_the_buyer_cancelled_goes_back_to_the_buyer(
    market: Market, chain: Chain, regtest: RegtestCluster, addresses: dict[str, str]
) -> None:
    order_id = market.place(refund_address=addresses["buyer"])
    address = _ready(market, chain, order_id)["escrow"]["address"]
    assert market.stock() == STOCK - 1

    response = market.post(market.buyer, order_id, "cancel", {})
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"
    assert market.stock() == STOCK
    assert payouts(market.database, order_id) == []  # nothing had arrived: nothing to pay back

    late = 50_000_000_000  # 0.05 XMR sent anyway, to the address the buyer was shown
    regtest.pay(address, late)
    chain.run(lambda: _returned(market, order_id), what="the return of the late payment")

    assert market.state(order_id) is OrderState.CANCELLED
    payout = _assert_one_return(market, regtest, order_id, paid=late, refund_address=addresses["buyer"])
    ended = market.get(order_id)
    assert _history(ended) == [
        (None, "placed"),
        ("placed", "awaiting_payment"),
        ("awaiting_payment", "cancelled"),
        ("cancelled", "cancelled"),
        ("cancelled", "cancelled"),
    ]
    cancelled, arrived, returned = ended["history"][2:]
    assert (cancelled["actor"], cancelled["reason"]) == ("buyer", "Cancelled by the buyer before payment.")
    assert arrived["reason"] == "0.05 XMR arrived after the order was cancelled; it goes back to the buyer."
    assert arrived["txids"] == [payment["txid"] for payment in ended["escrow"]["payments"]]
    assert returned["txids"] == payout.txids
    assert market.stock() == STOCK  # returned once
    assert _failed_jobs(market) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_vendor_declines_an_order_before_payment(
    market: Market, chain: Chain, regtest: RegtestCluster, addresses: dict[str, str]
) -> None:
    order_id = market.place(refund_address=addresses["buyer"])
    _ready(market, chain, order_id)

    response = market.post(market.vendor, order_id, "decline")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "declined"

    ended = market.get(order_id)
    assert ended["state"] == "declined"
    assert _history(ended)[-1] == ("awaiting_payment", "declined")
    assert ended["history"][-1]["actor"] == "vendor"
    assert market.stock() == STOCK
    assert payouts(market.database, order_id) == []
    too_late = market.post(market.buyer, order_id, "cancel", {})
    assert (too_late.status_code, too_late.json()["state"]) == (409, "declined")
    assert _failed_jobs(market) == []


@pytest.mark.parametrize("payment_window_seconds", [2])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_order_nothing_was_paid_to_expires_without_a_payout(
    market: Market, chain: Chain, regtest: RegtestCluster, addresses: dict[str, str]
) -> None:
    order_id = market.place(refund_address=addresses["buyer"])
    _ready(market, chain, order_id)
    chain.run(lambda: market.state(order_id) is OrderState.EXPIRED, what="the payment deadline")

    ended = market.get(order_id)
    assert _history(ended)[-1] == ("awaiting_payment", "expired")
    assert ended["history"][-1]["reason"] == "The payment window ended with 0.25 XMR missing."
    assert ended["escrow"]["received_atomic"] == 0
    assert market.stock() == STOCK
    assert payouts(market.database, order_id) == []
    assert [job.kind for job in market.jobs(order_id, "escrow.payout")] == []
    assert _failed_jobs(market) == []
