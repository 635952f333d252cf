""" "Pay from demo wallet" pays an order once, however often it is asked, on the real chain.

The escrow learns of a payment only when the worker next looks (no worker runs here, as between
a click and the worker's next poll), so a second click, or two requests at the same instant,
must not send the amount again. The demo wallet is the regtest cluster's ``payer``; the escrow
address is a fresh subaddress of its ``payee``.
"""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.devstack.pay import NothingDue, pay_from_demo_wallet, sent_to
from marketplace.monero.regtest import RegtestCluster
from marketplace.orders import states
from marketplace.orders.models import OrderState
from tests.orders.conftest import Market
from tests.support.concurrency import run_together
from tests.support.escrow import ESCROW_SETTINGS


@pytest.fixture
def settings_overrides(regtest: RegtestCluster) -> dict[str, Any]:
    return {**ESCROW_SETTINGS, "confirmations": 2, "env": "development", "dev_wallet_url": regtest.payer.url}


def _awaiting_payment(market: Market, regtest: RegtestCluster) -> tuple[str, str]:
    order_id = market.place()
    address, _ = regtest.payee.create_address()
    market.worker(states.escrow_ready, order_id, address=address)
    return order_id, address


def test_a_second_click_sends_nothing_more_while_the_first_payment_is_unseen(
    market: Market, regtest: RegtestCluster
) -> None:
    order_id, address = _awaiting_payment(market, regtest)
    client = market.buyer.client
    token = client.csrf_token("/")

    first = client.post(f"/orders/{order_id}/dev-pay", data={"csrf_token": token})
    second = client.post(f"/orders/{order_id}/dev-pay", data={"csrf_token": token})

    assert first.headers["location"] == f"/orders/{order_id}/pay?notice=demo-paid"
    assert second.headers["location"] == f"/orders/{order_id}/pay?notice=demo-nothing-due"
    assert sent_to(regtest.payer, address) == market.amount(order_id)
    assert market.state(order_id) is OrderState.AWAITING_PAYMENT


def test_requests_at_the_same_instant_pay_once(market: Market, regtest: RegtestCluster) -> None:
    order_id, address = _awaiting_payment(market, regtest)
    wallet_url = regtest.payer.url

    def pay() -> object:
        with market.database.session() as session:
            return pay_from_demo_wallet(session, market.settings, order_id, wallet_url)

    outcomes = run_together([pay] * 4, timeout_s=120)

    paid = [outcome for outcome in outcomes if outcome.error is None]
    assert len(paid) == 1, outcomes
    assert all(isinstance(outcome.error, NothingDue) for outcome in outcomes if outcome.error is not None), outcomes
    assert sent_to(regtest.payer, address) == market.amount(order_id)
