"""``POST /orders/{id}/dev-pay`` ("Pay from demo wallet"): development only, the order's buyer only.

No chain here: the demo wallet's URL names a closed port, so a payment that gets as far as the
wallet is refused with "the wallet does not answer" (tests/devstack/test_dev_stack.py pays for real).
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from sqlalchemy import select

from marketplace.devstack.pay import DEV_PAY_NOTICES, pay_from_demo_wallet
from marketplace.errors import EscrowUnavailable
from marketplace.orders.models import OrderEvent, OrderState
from tests.orders.conftest import Market
from tests.support.client import SiteClient
from tests.support.escrow import ESCROW_SETTINGS


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the socket is closed


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {**ESCROW_SETTINGS, "confirmations": 2, "env": "development", "dev_wallet_url": _closed_port_url()}


def _dev_pay(market: Market, order_id: str, *, person: Any = None) -> Any:
    client: SiteClient = (person or market.buyer).client
    return client.post(f"/orders/{order_id}/dev-pay", data={"csrf_token": client.csrf_token("/")})


def _history(market: Market, order_id: str) -> list[OrderState]:
    with market.database.session() as session:
        return list(session.scalars(select(OrderEvent.to_state).where(OrderEvent.order_id == order_id)))


def test_the_buyer_is_sent_back_to_the_pay_page_saying_the_demo_wallet_does_not_answer(market: Market) -> None:
    order_id = market.place()
    market.ready(order_id)
    before = _history(market, order_id)

    response = _dev_pay(market, order_id)

    assert response.status_code == 303
    assert response.headers["location"] == f"/orders/{order_id}/pay?notice=demo-wallet-down"
    page = market.buyer.client.get(response.headers["location"])
    assert DEV_PAY_NOTICES["demo-wallet-down"] in page.text
    assert "does not answer" in DEV_PAY_NOTICES["demo-wallet-down"]
    assert market.state(order_id) is OrderState.AWAITING_PAYMENT
    assert _history(market, order_id) == before


def test_an_order_still_being_set_up_or_already_paid_is_not_paid_again(market: Market) -> None:
    placed = market.place()
    assert _dev_pay(market, placed).headers["location"] == f"/orders/{placed}/pay?notice=demo-not-awaiting"

    on_its_way = market.place()
    market.ready(on_its_way)
    market.pay(on_its_way, market.amount(on_its_way), confirmations=0)  # seen in the pool, not yet counted
    response = _dev_pay(market, on_its_way)
    assert response.headers["location"] == f"/orders/{on_its_way}/pay?notice=demo-nothing-due"


def test_someone_else_than_the_buyer_gets_not_found(market: Market) -> None:
    order_id = market.place()
    market.ready(order_id)

    assert _dev_pay(market, order_id, person=market.vendor).status_code == 404
    assert _dev_pay(market, "0" * 32).status_code == 404


def test_without_the_csrf_token_nothing_is_tried(market: Market) -> None:
    order_id = market.place()
    market.ready(order_id)

    response = market.buyer.client.post(f"/orders/{order_id}/dev-pay", data={})

    assert response.status_code == 403


def test_the_service_says_the_stack_is_not_running_when_the_wallet_is_unreachable(market: Market) -> None:
    order_id = market.place()
    market.ready(order_id)

    wallet_url = market.settings.dev_wallet_url
    assert wallet_url is not None
    with market.database.session() as session, pytest.raises(EscrowUnavailable, match="marketplace dev"):
        pay_from_demo_wallet(session, market.settings, order_id, wallet_url)
    assert market.order(order_id).state is OrderState.AWAITING_PAYMENT


def test_the_demo_wallet_button_is_gone_once_nothing_is_left_to_pay(market: Market) -> None:
    order_id = market.place()
    market.ready(order_id)
    assert ">Pay from demo wallet<" in market.buyer.client.get(f"/orders/{order_id}/pay").text
    market.pay(order_id, market.amount(order_id), confirmations=0)  # seen in the pool: on its way
    page = market.buyer.client.get(f"/orders/{order_id}/pay").text
    assert "Nothing more to send" in page
    assert ">Pay from demo wallet<" not in page
