"""Placing an order: the terms fixed on it, the units reserved, the work queued, and every refusal."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from marketplace.accounts.models import Role, User
from marketplace.db.base import utcnow
from marketplace.jobs.models import Job
from marketplace.listings.models import Listing
from marketplace.monero.amounts import MAX_PRICE_ATOMIC
from marketplace.orders import states
from marketplace.orders.models import Order, OrderState
from tests.orders.conftest import CONFIRMATIONS, PRICE, VENDOR_ADDRESS, Market
from tests.support.api import assert_api_error
from tests.support.escrow import ESCROW_SETTINGS
from tests.support.factories import MAINNET_ADDRESS, STAGENET_ADDRESS


def test_an_order_fixes_its_terms_reserves_the_units_and_queues_the_escrow_set_up(market: Market) -> None:
    response = market.buyer.client.post("/api/v1/orders", json=market.order_body(quantity=2))
    assert response.status_code == 201, response.text
    order = response.json()
    assert re.fullmatch(r"[0-9a-f]{32}", order["id"])
    assert order["state"] == "placed"
    assert order["your_role"] == "buyer"
    assert order["amount_atomic"] == 2 * PRICE
    terms = order["terms"]
    assert terms["quantity"] == 2
    assert terms["unit_price_atomic"] == PRICE
    assert terms["vendor_address"] == VENDOR_ADDRESS
    assert terms["refund_address"] == MAINNET_ADDRESS
    assert terms["confirmations"] == CONFIRMATIONS
    assert terms["payment_window_seconds"] == market.settings.payment_window_seconds
    assert order["escrow"]["address"] is None  # not shown until the escrow is set up
    assert [(event["actor"], event["from_state"], event["to_state"]) for event in order["history"]] == [
        ("buyer", None, "placed")
    ]
    assert market.stock() == 3
    jobs = market.jobs(order["id"])
    assert [job.kind for job in jobs] == ["escrow.setup", "escrow.deadline"]
    assert jobs[1].payload == {"deadline": "payment"}
    placed_at = market.order(order["id"]).placed_at
    assert jobs[1].run_at == placed_at + timedelta(seconds=market.settings.payment_window_seconds)


def test_the_jobs_an_order_queues_carry_the_request_id_of_the_request_that_placed_it(market: Market) -> None:
    """An operator with the X-Request-ID of a failed checkout finds the escrow jobs it started."""
    placed = market.buyer.client.post(
        "/api/v1/orders", json=market.order_body(), headers={"X-Request-ID": "checkout-4711"}
    )
    other = market.place()

    assert placed.status_code == 201, placed.text
    assert placed.headers["x-request-id"] == "checkout-4711"
    jobs = market.jobs(placed.json()["id"])
    assert [(job.kind, job.request_id) for job in jobs] == [
        ("escrow.setup", "checkout-4711"),
        ("escrow.deadline", "checkout-4711"),
    ]
    other_ids = {job.request_id for job in market.jobs(other)}
    # The other order's jobs carry the id its own request was given.
    assert len(other_ids) == 1
    assert None not in other_ids
    assert "checkout-4711" not in other_ids


def test_later_changes_to_the_listing_and_the_vendor_leave_the_terms_alone(market: Market) -> None:
    order_id = market.place()
    with market.database.session() as session:
        session.execute(update(Listing).where(Listing.id == market.listing.id).values(price_atomic=9 * PRICE))
    market.vendor.client.put(
        "/api/v1/me/payout-address", json={"address": MAINNET_ADDRESS, "password": "a-long-enough-passphrase"}
    )
    terms = market.get(order_id)["terms"]
    assert terms["unit_price_atomic"] == PRICE
    assert terms["vendor_address"] == VENDOR_ADDRESS


def test_order_ids_are_random(market: Market) -> None:
    first, second = market.place(), market.place()
    assert first != second
    assert abs(int(first, 16) - int(second, 16)) > 2**64  # nothing sequential to count


@pytest.mark.parametrize("role", [Role.VENDOR, Role.ARBITER, Role.ADMIN])
def test_only_buyers_order(market: Market, role: Role) -> None:
    person = market.make_person(role)
    response = person.client.post("/api/v1/orders", json=market.order_body())
    assert_api_error(response, 403, "forbidden")
    assert market.count(Order) == 0
    assert market.stock() == 5


@pytest.mark.parametrize("settings_overrides", [{}])
def test_without_escrow_settings_ordering_answers_503(market: Market) -> None:
    response = market.buyer.client.post("/api/v1/orders", json=market.order_body())
    body = assert_api_error(response, 503, "escrow_unavailable", message="MARKETPLACE_MONEROD_URL")
    assert "not configured" in body["message"]
    assert market.count(Order) == 0
    assert market.stock() == 5


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"refund_address": "not an address"}, "refund_address"),
        ({"refund_address": STAGENET_ADDRESS}, "refund_address"),
        ({"refund_address": ""}, "refund_address"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": 6}, "quantity"),  # above the stock of 5
        ({"quantity": "1"}, "quantity"),  # strict: a string is no number
        ({"listing_id": 0}, "listing_id"),
        ({"shipping_info": "a\u202eb"}, "shipping_info"),
        ({"shipping_info": "x" * 2001}, "shipping_info"),
    ],
)
def test_bad_input_is_refused_naming_the_field(market: Market, overrides: dict[str, Any], field: str) -> None:
    response = market.buyer.client.post("/api/v1/orders", json=market.order_body(**overrides))
    assert_api_error(response, 422, "invalid", field=field)
    assert market.count(Order) == 0
    assert market.stock() == 5


def test_a_missing_refund_address_is_refused(market: Market) -> None:
    body = market.order_body()
    del body["refund_address"]
    assert_api_error(market.buyer.client.post("/api/v1/orders", json=body), 422, "invalid", field="refund_address")


@pytest.mark.parametrize("settings_overrides", [{**ESCROW_SETTINGS, "min_order_atomic": 2 * PRICE}])
def test_a_total_under_the_minimum_is_refused(market: Market) -> None:
    response = market.buyer.client.post("/api/v1/orders", json=market.order_body(quantity=1))
    assert_api_error(response, 422, "invalid", field="quantity", message="at least 0.5 XMR")
    assert market.buyer.client.post("/api/v1/orders", json=market.order_body(quantity=2)).status_code == 201


def test_a_total_over_the_cap_is_refused(market: Market) -> None:
    with market.database.session() as session:
        session.execute(update(Listing).where(Listing.id == market.listing.id).values(price_atomic=MAX_PRICE_ATOMIC))
    assert market.buyer.client.post("/api/v1/orders", json=market.order_body(quantity=1)).status_code == 201
    response = market.buyer.client.post("/api/v1/orders", json=market.order_body(quantity=2))
    assert_api_error(response, 422, "invalid", field="quantity", message="at most 1000000.0 XMR")


def test_a_vendor_without_a_payout_address_cannot_be_ordered_from(market: Market) -> None:
    with market.database.session() as session:
        session.execute(update(User).where(User.id == market.vendor.user.id).values(payout_address=None))
    response = market.buyer.client.post("/api/v1/orders", json=market.order_body())
    assert_api_error(response, 409, "conflict", state="no_payout_address", message="payout address")
    assert market.stock() == 5


def test_a_paused_or_missing_listing_cannot_be_ordered(market: Market) -> None:
    assert_api_error(
        market.buyer.client.post("/api/v1/orders", json=market.order_body(listing_id=999_999)), 404, "not_found"
    )
    market.vendor.client.patch(f"/api/v1/listings/{market.listing.id}", json={"status": "paused"})
    response = market.buyer.client.post("/api/v1/orders", json=market.order_body())
    assert_api_error(response, 409, "conflict", state="unavailable")


@pytest.mark.parametrize("settings_overrides", [{**ESCROW_SETTINGS, "max_unpaid_orders": 2}])
def test_a_buyer_has_at_most_the_unpaid_orders_allowed(market: Market) -> None:
    first = market.place()
    market.place()
    response = market.buyer.client.post("/api/v1/orders", json=market.order_body())
    assert_api_error(response, 409, "conflict", state="too_many_unpaid", message="pay or cancel one first")
    other_buyer = market.make_person(Role.BUYER)
    market.place(buyer=other_buyer)  # the limit is per buyer
    market.fund(first)  # a funded order no longer counts
    market.place()


def test_shipping_details_are_sealed_and_shown_to_the_vendor_only(market: Market) -> None:
    order_id = market.place(shipping_info="Jane Doe\n1 Harbour Lane")
    with market.database.session() as session:
        stored = session.scalar(select(Order.shipping_info).where(Order.id == order_id))
    assert stored is not None
    assert b"Harbour" not in stored
    assert market.get(order_id, market.vendor)["shipping_info"] == "Jane Doe\n1 Harbour Lane"
    assert market.get(order_id, market.buyer)["shipping_info"] is None
    # A sealed box moved to another order's row does not open there.
    other = market.place()
    with market.database.session() as session:
        session.execute(update(Order).where(Order.id == other).values(shipping_info=stored))
    assert market.get(other, market.vendor)["shipping_info"] is None


def test_the_arbiter_of_a_dispute_sees_the_shipping_details(market: Market) -> None:
    order_id = market.place(shipping_info="1 Harbour Lane")
    market.fund(order_id)
    market.post(market.buyer, order_id, "dispute", {"reason": "Nothing came."})
    assert market.get(order_id, market.arbiter)["shipping_info"] == "1 Harbour Lane"


def test_shipping_details_are_erased_30_days_after_the_order_ends(market: Market) -> None:
    kept, erased = market.place(shipping_info="kept"), market.place(shipping_info="erased")
    for order_id in (kept, erased):
        assert market.post(market.buyer, order_id, "cancel").status_code == 200
    market.set_time(erased, ended_at=utcnow() - timedelta(days=30, seconds=1))
    with market.database.session() as session:
        assert states.erase_old_shipping_info(session, utcnow()) == 1
    assert market.get(kept, market.vendor)["shipping_info"] == "kept"
    assert market.get(erased, market.vendor)["shipping_info"] is None
    assert market.order(erased).shipping_info_erased_at is not None


def test_the_buyers_orders_and_a_state_filter(market: Market) -> None:
    first, second = market.place(), market.place()
    market.post(market.buyer, first, "cancel")
    listed = market.buyer.client.get("/api/v1/orders").json()
    assert [item["id"] for item in listed["items"]] == [second, first]  # newest first
    cancelled = market.buyer.client.get("/api/v1/orders?state=cancelled").json()
    assert [item["id"] for item in cancelled["items"]] == [first]
    assert [item["id"] for item in market.vendor.client.get("/api/v1/orders").json()["items"]] == [second, first]
    stranger = market.make_person(Role.BUYER)
    assert stranger.client.get("/api/v1/orders").json()["items"] == []
    assert_api_error(market.buyer.client.get("/api/v1/orders?state=lost"), 422, "invalid", field="state")


def test_no_job_is_left_behind_by_a_refusal(market: Market) -> None:
    market.buyer.client.post("/api/v1/orders", json=market.order_body(quantity=99))
    assert market.count(Job) == 0
    assert market.state(market.place()) is OrderState.PLACED
