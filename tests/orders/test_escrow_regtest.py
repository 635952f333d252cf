"""Every order path of the escrow, carried by the real worker to its confirmed end on regtest.

Real monerod and monero-wallet-rpc (the session's ``regtest`` cluster), the real signers, the
real GnuPG backup; the order is placed and moved by its parties through the API, and the worker
(``escrow_chain.Chain``) does the rest while blocks are mined. What a user would notice is
checked: the order's state and history, and the piconero that arrive at each payout address.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from marketplace.accounts.models import User
from marketplace.monero.regtest import RegtestCluster
from marketplace.orders.models import EscrowPayout, OrderState, PayoutState
from marketplace.runtime import build_runtime
from tests.orders.conftest import Market
from tests.orders.escrow_chain import Chain


@pytest.fixture
def settings_overrides(escrow_settings: dict[str, Any]) -> dict[str, Any]:
    return {**escrow_settings, "payment_poll_seconds": 0}


@pytest.fixture
def chain(regtest: RegtestCluster, market: Market) -> Iterator[Chain]:
    runtime = build_runtime(market.settings, market.database)
    try:
        yield Chain.start(regtest, runtime)
    finally:
        stack = runtime.escrow_stack()
        if stack is not None:
            stack.close()


@pytest.fixture
def addresses(regtest: RegtestCluster, market: Market) -> dict[str, str]:
    """Real payee addresses for the vendor's payout and the buyer's refund, set on the market."""
    vendor_address = regtest.new_personal_address()
    with market.database.session() as session:
        session.execute(update(User).where(User.id == market.vendor.user.id).values(payout_address=vendor_address))
    return {"vendor": vendor_address, "buyer": regtest.new_personal_address()}


def _payouts(market: Market, order_id: str) -> list[EscrowPayout]:
    with market.database.session() as session:
        return list(session.scalars(select(EscrowPayout).where(EscrowPayout.order_id == order_id)))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_release_pays_the_vendor_what_the_buyer_paid_less_the_network_fee(
    market: Market, chain: Chain, regtest: RegtestCluster, addresses: dict[str, str]
) -> None:
    order_id = market.place(refund_address=addresses["buyer"])
    chain.run(lambda: market.state(order_id) is OrderState.AWAITING_PAYMENT, what="setup")
    escrow = market.get(order_id)["escrow"]
    due = escrow["amount_due_atomic"]

    regtest.pay(escrow["address"], due)
    chain.run(lambda: market.state(order_id) is OrderState.FUNDED, what="funding")
    assert market.post(market.vendor, order_id, "ship", {"note": "Tracked parcel."}).status_code == 200
    assert market.post(market.buyer, order_id, "confirm", {}).status_code == 202
    chain.run(lambda: market.state(order_id) is OrderState.COMPLETED, what="release")

    payouts = _payouts(market, order_id)
    confirmed = [payout for payout in payouts if payout.state is PayoutState.CONFIRMED]
    assert len(confirmed) == 1
    (payout,) = confirmed
    assert [destination["role"] for destination in payout.destinations] == ["vendor"]
    assert payout.destinations[0]["amount_atomic"] + payout.network_fee_atomic == due
    assert regtest.received(addresses["vendor"]) == due - payout.network_fee_atomic
    assert regtest.received(addresses["buyer"]) == 0
    history = [event["to_state"] for event in market.get(order_id)["history"]]
    assert history == ["placed", "awaiting_payment", "funded", "shipped", "paying_out", "completed"]
