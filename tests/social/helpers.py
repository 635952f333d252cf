"""Driving orders for the social tests, as tests/orders/test_paths.py does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from marketplace.db.base import utcnow
from marketplace.notifications.models import Notification
from marketplace.orders import states
from marketplace.orders.models import OrderState, PayoutPurpose
from marketplace.settings import SignerRole
from tests.orders.conftest import Market

DESTINATION_ADDRESS = "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge"


def completed_order(market: Market) -> str:
    """An order shipped, confirmed by its buyer, and its release payout confirmed: ``completed``."""
    order_id = market.shipped_order()
    assert market.post(market.buyer, order_id, "confirm").status_code == 202
    amount = market.amount(order_id)
    with market.database.session() as session:
        payout_id = states.payout_signed(
            session,
            order_id,
            states.WORKER,
            utcnow(),
            purpose=PayoutPurpose.RELEASE,
            proposer=SignerRole.BUYER,
            cosigner=SignerRole.VENDOR,
            destinations=[{"role": "vendor", "address": DESTINATION_ADDRESS, "amount_atomic": amount - 100}],
            network_fee_atomic=100,
            signed_tx_hex="00ff",
            txids=["c" * 64],
            key_images=["d" * 64],
        )
    with market.database.session() as session:
        states.payout_submitted(session, payout_id, states.WORKER, utcnow())
    with market.database.session() as session:
        states.payout_confirmed(session, payout_id, states.WORKER, utcnow(), confirmations=2)
    assert market.state(order_id) is OrderState.COMPLETED
    return order_id


def notifications_of(market: Market, user_id: int) -> list[Notification]:
    with market.database.session() as session:
        return list(
            session.scalars(select(Notification).where(Notification.user_id == user_id).order_by(Notification.id))
        )


def count(market: Market, model: type[Any]) -> int:
    with market.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)
