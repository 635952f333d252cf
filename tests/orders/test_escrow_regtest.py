"""Every order path of the escrow, carried by the real worker to its confirmed end on regtest.

Real monerod and monero-wallet-rpc (the session's ``regtest`` cluster), the real signers, the
real GnuPG backup; the order is placed and moved by its parties through the API, and the worker
(``escrow_chain.Chain``) does the rest while blocks are mined. What a user would notice is
checked: the order's state and history, and the piconero that arrive at each payout address.
"""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.monero.regtest import RegtestCluster
from marketplace.orders.models import OrderState
from tests.orders.conftest import Market
from tests.orders.escrow_chain import Chain, confirmed_payouts


@pytest.fixture
def settings_overrides(escrow_settings: dict[str, Any]) -> dict[str, Any]:
    return {**escrow_settings, "payment_poll_seconds": 0}


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

    confirmed = confirmed_payouts(market.database, order_id)
    assert len(confirmed) == 1
    (payout,) = confirmed
    assert [destination["role"] for destination in payout.destinations] == ["vendor"]
    assert payout.destinations[0]["amount_atomic"] + payout.network_fee_atomic == due
    assert regtest.received(addresses["vendor"]) == due - payout.network_fee_atomic
    assert regtest.received(addresses["buyer"]) == 0
    history = [event["to_state"] for event in market.get(order_id)["history"]]
    assert history == ["placed", "awaiting_payment", "funded", "shipped", "paying_out", "completed"]
