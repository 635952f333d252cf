"""Notifications: every order change tells the people it concerns but not its actor; reading and marking read."""

from __future__ import annotations

from marketplace.accounts.models import Role
from marketplace.orders.models import OrderState, PayoutPurpose
from tests.orders.conftest import Market
from tests.orders.test_paths import pay_out
from tests.social.helpers import notifications_of
from tests.support.api import assert_api_error


def _links(market: Market, user_id: int, order_id: str) -> list[str]:
    return [row.text for row in notifications_of(market, user_id) if row.link == f"/orders/{order_id}"]


def test_each_state_change_notifies_the_parties_but_not_the_actor(market: Market) -> None:
    order_id = market.place()
    # The buyer placed it: the vendor is told, the buyer is not.
    assert len(_links(market, market.vendor.user.id, order_id)) == 1
    assert _links(market, market.buyer.user.id, order_id) == []
    market.fund(order_id)  # the worker: escrow ready, then paid; both parties are told of each step
    assert len(_links(market, market.buyer.user.id, order_id)) == 2
    assert len(_links(market, market.vendor.user.id, order_id)) == 3
    assert market.post(market.vendor, order_id, "ship", {"note": "Tracking 1"}).status_code == 200
    assert len(_links(market, market.vendor.user.id, order_id)) == 3  # the vendor shipped: not told
    shipped = _links(market, market.buyer.user.id, order_id)
    assert len(shipped) == 3
    assert "shipped" in shipped[-1]


def test_a_dispute_concerns_the_arbiter_who_holds_it_and_no_other(market: Market) -> None:
    order_id = market.disputed_order()
    # Nobody holds it yet: no arbiter is told (the queue shows it).
    assert _links(market, market.arbiter.user.id, order_id) == []
    vendor_before = len(_links(market, market.vendor.user.id, order_id))
    assert market.post(market.arbiter, order_id, "claim").status_code == 200
    assert len(_links(market, market.vendor.user.id, order_id)) == vendor_before + 1
    assert _links(market, market.arbiter.user.id, order_id) == []  # the arbiter acted
    # Anything the parties do from now on reaches the arbiter holding the dispute, not the other arbiters.
    message = market.vendor.client.post(f"/api/v1/orders/{order_id}/messages", json={"text": "It was sent."})
    assert message.status_code == 201
    assert [row.kind for row in notifications_of(market, market.arbiter.user.id)] == ["message"]
    decided = market.post(market.arbiter, order_id, "decision", {"outcome": "refund", "reason": "No proof."})
    assert decided.status_code == 202, decided.text
    assert _links(market, market.arbiter.user.id, order_id) == []  # the arbiter decided: not told
    assert "No proof." in _links(market, market.buyer.user.id, order_id)[-1]
    pay_out(market, order_id, PayoutPurpose.REFUND, signers=("arbiter", "buyer"))
    assert market.state(order_id) is OrderState.RESOLVED
    (told,) = _links(market, market.arbiter.user.id, order_id)
    assert "resolved" in told
    assert notifications_of(market, market.other_arbiter.user.id) == []


def test_reading_and_marking_read(market: Market) -> None:
    order_id = market.place()
    market.fund(order_id)
    listed = market.buyer.client.get("/api/v1/notifications")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["unread"] == 2
    assert all(not item["read"] for item in body["items"])
    first = body["items"][0]["id"]
    other = market.make_person(Role.BUYER)
    # Someone else's ids change nothing.
    foreign = other.client.post("/api/v1/notifications/read", json={"ids": [first]})
    assert foreign.json() == {"marked": 0, "unread": 0}
    marked = market.buyer.client.post("/api/v1/notifications/read", json={"ids": [first]})
    assert marked.json() == {"marked": 1, "unread": 1}
    after = market.buyer.client.get("/api/v1/notifications").json()
    assert [item["read"] for item in after["items"]] == [False, True]  # unread first
    assert market.buyer.client.post("/api/v1/notifications/read", json={"all": True}).json() == {
        "marked": 1,
        "unread": 0,
    }
    assert market.buyer.client.post("/api/v1/notifications/read", json={"all": True}).json() == {
        "marked": 0,
        "unread": 0,
    }


def test_a_read_request_names_ids_or_all(market: Market) -> None:
    for body in ({}, {"ids": []}, {"ids": [1], "all": True}, {"all": False}):
        assert_api_error(market.buyer.client.post("/api/v1/notifications/read", json=body), 422, "invalid", field="ids")
