"""The paths that settle a funded order, each carried to its confirmed end on regtest.

Mutual cancel (refund signed by buyer and vendor), the ship window (the buyer cancels alone:
buyer and arbiter), a dispute decided by an arbiter (split, release, refund: the arbiter and the
favoured party), the finalize window (the buyer silent: vendor and arbiter). Real monerod and
monero-wallet-rpc, real signers and backups; the parties act through the API, the real worker
(``escrow_chain.Chain``) does the rest while blocks are mined. Windows are shortened through the
settings, never a fake clock.

The site takes a marketplace fee (150 basis points to a real payee address) in every test here,
so each payout that pays the vendor has a destination for the fee. What is checked is what a
user or operator would notice: the order's state and history, exactly one confirmed payout
signed by the two expected signers, the piconero that arrived at each payee address (each exact
per the money rules of docs/escrow.md, computed here from the formula, not by the code under
test), the escrow emptied (what was sent plus the network fee is what was received), and the
listing's stock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyotp
import pytest

from marketplace.accounts import totp
from marketplace.accounts.models import User
from marketplace.db.base import utcnow
from marketplace.escrow.wallet_signer import WalletSigner
from marketplace.monero.regtest import RegtestCluster
from marketplace.orders.models import EscrowPayout, OrderState, PayoutPurpose
from marketplace.settings import SignerRole
from tests.orders.conftest import Market
from tests.orders.escrow_chain import Chain, confirmed_payouts, wait_until
from tests.support.api import assert_api_error
from tests.support.factories import Person

FEE_BASIS_POINTS = 150
STOCK = 5  # the market's listing


@pytest.fixture
def windows() -> dict[str, int]:
    """Window settings of the test's orders; a test shortens one by parametrizing this name."""
    return {}


@pytest.fixture
def fee_address(regtest: RegtestCluster) -> str:
    """The marketplace's fee address: a fresh payee address, so what it receives is this test's."""
    return regtest.new_personal_address()


@pytest.fixture
def settings_overrides(escrow_settings: dict[str, Any], windows: dict[str, int], fee_address: str) -> dict[str, Any]:
    return {
        **escrow_settings,
        "payment_poll_seconds": 0,
        "fee_basis_points": FEE_BASIS_POINTS,
        "fee_address": fee_address,
        **windows,
    }


# --- helpers -------------------------------------------------------------------------------------


def _funded(market: Market, chain: Chain, regtest: RegtestCluster, *order_ids: str) -> int:
    """Set up each order's escrow, pay exactly what is due, run until each is funded; returns the amount due."""
    chain.run(lambda: all(market.state(o) is OrderState.AWAITING_PAYMENT for o in order_ids), what="setup")
    dues = set()
    for order_id in order_ids:
        escrow = market.get(order_id)["escrow"]
        regtest.pay(escrow["address"], escrow["amount_due_atomic"])
        dues.add(escrow["amount_due_atomic"])
    chain.run(lambda: all(market.state(o) is OrderState.FUNDED for o in order_ids), what="funding")
    (due,) = dues
    return int(due)


def _expected(parts: list[tuple[str, str, int]], received: int, network_fee: int) -> list[dict[str, Any]]:
    """The destinations of docs/escrow.md for ``parts`` (role, address, part before the network fee).

    Each part pays floor(F × part / E) of the network fee, the largest (the first on a tie) the rest;
    a part of 0 is no destination. (No part here is small enough to be dropped.)
    """
    paid = [part for part in parts if part[2] > 0]
    assert sum(part for _, _, part in paid) == received
    largest = max(range(len(paid)), key=lambda index: (paid[index][2], -index))
    shares = [network_fee * part // received for _, _, part in paid]
    shares[largest] = network_fee - sum(share for index, share in enumerate(shares) if index != largest)
    return [
        {"role": role, "address": address, "amount_atomic": part - share}
        for (role, address, part), share in zip(paid, shares, strict=True)
    ]


def _paid_once(
    market: Market,
    regtest: RegtestCluster,
    order_id: str,
    *,
    purpose: PayoutPurpose,
    signers: tuple[SignerRole, SignerRole],
    parts: list[tuple[str, str, int]],
) -> EscrowPayout:
    """Exactly one confirmed payout, signed by ``signers``, paying ``parts`` less their share of its
    network fee, each amount arrived on chain, the escrow emptied."""
    (payout,) = confirmed_payouts(market.database, order_id)
    assert payout.purpose is purpose
    assert (payout.proposer, payout.cosigner) == signers
    received = market.get(order_id)["escrow"]["received_atomic"]
    fee = payout.network_fee_atomic
    assert 0 < fee < market.settings.max_network_fee_atomic
    assert payout.destinations == _expected(parts, received, fee)
    assert sum(destination["amount_atomic"] for destination in payout.destinations) + fee == received
    for destination in payout.destinations:
        assert regtest.received(destination["address"]) == destination["amount_atomic"], destination["role"]
    shown = [item for item in market.get(order_id)["escrow"]["payouts"] if item["state"] == "confirmed"]
    assert [(item["purpose"], item["txids"]) for item in shown] == [(purpose.value, payout.txids)]
    return payout


def _history(body: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [(event["actor"], event["from_state"], event["to_state"]) for event in body["history"]]


def _enable_two_factor(market: Market, person: Person) -> str:
    secret = totp.new_secret()
    with market.database.session() as session:
        user = session.get(User, person.user.id)
        assert user is not None
        user.totp_secret, user.totp_enabled_at = secret, utcnow()
    return secret


def _signer(chain: Chain, role: SignerRole) -> WalletSigner:
    stack = chain.runtime.escrow_stack()
    assert stack is not None
    signer = stack.signer(role)
    assert isinstance(signer, WalletSigner)
    return signer


def _fee(part: int) -> int:
    return part * FEE_BASIS_POINTS // 10_000


# --- mutual cancel ---------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_mutual_cancel_after_funding_refunds_the_buyer_and_returns_the_stock(
    market: Market, chain: Chain, regtest: RegtestCluster, vendor_address: str, fee_address: str
) -> None:
    refund_address = regtest.new_personal_address()
    order_id = market.place(refund_address=refund_address)
    assert market.stock() == STOCK - 1
    due = _funded(market, chain, regtest, order_id)

    asked = market.post(market.buyer, order_id, "cancel", {})
    assert asked.status_code == 200, asked.text
    assert asked.json()["cancel_request"]["by"] == "buyer"
    assert market.get(order_id, market.vendor)["cancel_request"]["by"] == "buyer"
    agreed = market.post(market.vendor, order_id, "cancel", {})
    assert agreed.status_code == 202, agreed.text
    assert agreed.json()["state"] == "paying_out"
    chain.run(lambda: market.state(order_id) is OrderState.REFUNDED, what="the refund")

    _paid_once(
        market,
        regtest,
        order_id,
        purpose=PayoutPurpose.REFUND,
        signers=(SignerRole.BUYER, SignerRole.VENDOR),
        parts=[("buyer", refund_address, due)],
    )
    assert regtest.received(vendor_address) == 0
    assert regtest.received(fee_address) == 0  # no sale, no marketplace fee
    assert market.stock() == STOCK
    body = market.get(order_id)
    assert _history(body) == [
        ("buyer", None, "placed"),
        ("worker", "placed", "awaiting_payment"),
        ("worker", "awaiting_payment", "funded"),
        ("buyer", "funded", "funded"),  # asked to cancel
        ("vendor", "funded", "paying_out"),  # agreed
        ("worker", "paying_out", "refunded"),
    ]
    assert body["cancel_request"] is None


# --- ship window -----------------------------------------------------------------------------------


@pytest.mark.parametrize("windows", [{"ship_window_seconds": 1}])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_not_shipped_within_the_ship_window_the_buyer_cancels_alone_and_is_refunded(
    market: Market, chain: Chain, regtest: RegtestCluster, vendor_address: str
) -> None:
    refund_address = regtest.new_personal_address()
    order_id = market.place(refund_address=refund_address)
    due = _funded(market, chain, regtest, order_id)
    ship_by = datetime.fromisoformat(market.get(order_id)["ship_by"])
    wait_until(ship_by)

    cancelled = market.post(market.buyer, order_id, "cancel", {})
    assert cancelled.status_code == 202, cancelled.text  # alone: no request to the vendor first
    assert cancelled.json()["payout"]["signers"] == ["buyer", "arbiter"]
    chain.run(lambda: market.state(order_id) is OrderState.REFUNDED, what="the refund")

    _paid_once(
        market,
        regtest,
        order_id,
        purpose=PayoutPurpose.REFUND,
        signers=(SignerRole.BUYER, SignerRole.ARBITER),
        parts=[("buyer", refund_address, due)],
    )
    assert regtest.received(vendor_address) == 0
    assert market.stock() == STOCK
    assert [state for _, _, state in _history(market.get(order_id))] == [
        "placed",
        "awaiting_payment",
        "funded",
        "paying_out",
        "refunded",
    ]


# --- disputes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_split_decided_by_an_arbiter_pays_buyer_vendor_and_fee_in_one_payout(
    market: Market, chain: Chain, regtest: RegtestCluster, vendor_address: str, fee_address: str
) -> None:
    refund_address = regtest.new_personal_address()
    order_id = market.place(refund_address=refund_address)
    due = _funded(market, chain, regtest, order_id)
    opened = market.post(market.buyer, order_id, "dispute", {"reason": "Half of it arrived broken."})
    assert opened.status_code == 200, opened.text
    secret = _enable_two_factor(market, market.arbiter)
    share = 100_000_000_000  # 0.1 XMR of the 0.25 due back to the buyer: the vendor keeps the larger part
    reason = "The carrier's photos show half of the parcel broken: 0.1 XMR back to the buyer."
    decision = {"outcome": "split", "buyer_share_atomic": share, "reason": reason}

    # The arbiter has two-factor on: the decision moves money, so it needs the current code.
    assert_api_error(market.post(market.arbiter, order_id, "decision", decision), 422, "invalid", field="totp_code")
    assert market.state(order_id) is OrderState.DISPUTED
    decided = market.post(market.arbiter, order_id, "decision", {**decision, "totp_code": pyotp.TOTP(secret).now()})
    assert decided.status_code == 202, decided.text
    chain.run(lambda: market.state(order_id) is OrderState.RESOLVED, what="the split")

    vendor_part = due - share
    _paid_once(
        market,
        regtest,
        order_id,
        purpose=PayoutPurpose.SPLIT,
        signers=(SignerRole.ARBITER, SignerRole.VENDOR),
        parts=[
            ("buyer", refund_address, share),
            ("vendor", vendor_address, vendor_part - _fee(vendor_part)),
            ("marketplace_fee", fee_address, _fee(vendor_part)),
        ],
    )
    assert _fee(vendor_part) == 2_250_000_000  # 1.5 % of 0.15 XMR
    assert market.stock() == STOCK - 1  # a split is a sale
    for party in (market.buyer, market.vendor):
        seen = market.get(order_id, party)
        assert seen["state"] == "resolved"
        assert seen["decision"]["outcome"] == "split"
        assert seen["decision"]["buyer_share_atomic"] == share
        assert seen["decision"]["reason"] == reason
        assert [event["to_state"] for event in seen["history"]] == [
            "placed",
            "awaiting_payment",
            "funded",
            "disputed",
            "paying_out",
            "resolved",
        ]
        assert seen["history"][4]["actor"] == "arbiter"
        assert reason in seen["history"][4]["reason"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_release_and_a_refund_decided_by_an_arbiter_each_pay_the_favoured_party(
    market: Market, chain: Chain, regtest: RegtestCluster, vendor_address: str, fee_address: str
) -> None:
    """Two orders in flight at once on the same signer endpoints (two per role), one chain for both."""
    released_refund_address, refunded_address = regtest.new_personal_address(), regtest.new_personal_address()
    released = market.place(refund_address=released_refund_address)
    refunded = market.place(refund_address=refunded_address)
    assert market.stock() == STOCK - 2
    due = _funded(market, chain, regtest, released, refunded)
    disputes = {released: (market.vendor, "The buyer says nothing came."), refunded: (market.buyer, "Nothing came.")}
    for order_id, (party, why) in disputes.items():
        assert market.post(party, order_id, "dispute", {"reason": why}).status_code == 200
    release_reason = "The carrier shows it delivered and signed for."
    refund_reason = "The vendor never gave a tracking number."
    answer = market.post(market.arbiter, released, "decision", {"outcome": "release", "reason": release_reason})
    assert answer.status_code == 202, answer.text
    answer = market.post(market.arbiter, refunded, "decision", {"outcome": "refund", "reason": refund_reason})
    assert answer.status_code == 202, answer.text
    chain.run(
        lambda: market.state(released) is OrderState.RESOLVED and market.state(refunded) is OrderState.RESOLVED,
        what="both decisions",
    )
    # Two escrows with work at once, two endpoints per role: each kept its own wallets open (an
    # open costs 1-3 s of CPU; taking turns on one endpoint, they reopened at every step).
    assert {role: sorted(_signer(chain, role).opens_by_wallet.values()) for role in SignerRole} == {
        role: [1, 1] for role in SignerRole
    }

    _paid_once(
        market,
        regtest,
        released,
        purpose=PayoutPurpose.RELEASE,
        signers=(SignerRole.ARBITER, SignerRole.VENDOR),
        parts=[("vendor", vendor_address, due - _fee(due)), ("marketplace_fee", fee_address, _fee(due))],
    )
    _paid_once(
        market,
        regtest,
        refunded,
        purpose=PayoutPurpose.REFUND,
        signers=(SignerRole.ARBITER, SignerRole.BUYER),
        parts=[("buyer", refunded_address, due)],
    )
    assert regtest.received(released_refund_address) == 0
    assert market.stock() == STOCK - 1  # the refunded order's unit came back
    for order_id, outcome, reason in ((released, "release", release_reason), (refunded, "refund", refund_reason)):
        for party in (market.buyer, market.vendor):
            seen = market.get(order_id, party)
            assert (seen["state"], seen["decision"]["outcome"], seen["decision"]["reason"]) == (
                "resolved",
                outcome,
                reason,
            )


# --- finalize window -------------------------------------------------------------------------------


@pytest.mark.parametrize("windows", [{"finalize_window_seconds": 1}])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_buyer_silent_through_the_finalize_window_the_vendor_is_paid(
    market: Market, chain: Chain, regtest: RegtestCluster, vendor_address: str, fee_address: str
) -> None:
    refund_address = regtest.new_personal_address()
    order_id = market.place(refund_address=refund_address)
    due = _funded(market, chain, regtest, order_id)
    shipped = market.post(market.vendor, order_id, "ship", {"note": "Tracked parcel."})
    assert shipped.status_code == 200, shipped.text
    wait_until(datetime.fromisoformat(shipped.json()["finalize_at"]))
    chain.run(lambda: market.state(order_id) is OrderState.COMPLETED, what="the release")

    _paid_once(
        market,
        regtest,
        order_id,
        purpose=PayoutPurpose.RELEASE,
        signers=(SignerRole.VENDOR, SignerRole.ARBITER),
        parts=[("vendor", vendor_address, due - _fee(due)), ("marketplace_fee", fee_address, _fee(due))],
    )
    assert regtest.received(refund_address) == 0
    assert market.stock() == STOCK - 1
    assert _history(market.get(order_id))[3:] == [
        ("vendor", "funded", "shipped"),
        ("deadline", "shipped", "paying_out"),
        ("worker", "paying_out", "completed"),
    ]
