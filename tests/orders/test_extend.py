"""The buyer extends the finalize deadline: once, only while shipped, by the extension fixed at placement.

Every reader of the deadline follows it: the order's ``finalize_at``, the refusal of a late
dispute, and the deadline job (run at the old deadline it puts itself back). Races: two extensions
at once (one wins, the other 409), an extension against the deadline job (never both).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from fastapi import FastAPI

from marketplace.accounts.models import Role, User
from marketplace.db.base import utcnow
from marketplace.orders import states
from marketplace.orders.models import EventActor, Order, OrderState
from tests.orders.conftest import Market, ago
from tests.support.api import assert_api_error
from tests.support.concurrency import HttpRequest, parallel_requests, run_together
from tests.support.factories import MAINNET_ADDRESS
from tests.support.interleave import interleave

EXTENSION = 3 * 24 * 3600
ROUNDS = 3
TIMEOUT_S = 30.0


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, Any]) -> dict[str, Any]:
    return {**settings_overrides, "finalize_extension_seconds": EXTENSION}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_the_buyer_extends_once_and_the_deadline_moves(market: Market) -> None:
    order_id = market.shipped_order()
    before = market.get(order_id)
    assert before["finalize_extended"] is False
    assert before["terms"]["finalize_extension_seconds"] == EXTENSION

    response = market.post(market.buyer, order_id, "extend")

    assert response.status_code == 200, response.text
    after = response.json()
    assert after["state"] == "shipped"
    assert after["finalize_extended"] is True
    assert _at(after["finalize_at"]) == _at(before["finalize_at"]) + timedelta(seconds=EXTENSION)
    extended = after["history"][-1]
    assert (extended["actor"], extended["from_state"], extended["to_state"]) == ("buyer", "shipped", "shipped")
    assert "extended the finalize deadline" in extended["reason"]
    # The vendor sees the same deadline.
    assert market.get(order_id, market.vendor)["finalize_at"] == after["finalize_at"]

    again = market.post(market.buyer, order_id, "extend")
    assert_api_error(again, 409, "conflict", state="shipped", message="already been extended")
    assert market.get(order_id)["finalize_at"] == after["finalize_at"]


def test_the_extension_is_fixed_when_the_order_is_placed(market: Market) -> None:
    # Placed while the site's extension was a minute; the site now says EXTENSION (its settings).
    placed_with = market.settings.model_copy(update={"finalize_extension_seconds": 60})
    with market.database.session() as session:
        buyer = session.get(User, market.buyer.user.id)
        assert buyer is not None
        request = states.NewOrder(listing_id=market.listing.id, quantity=1, refund_address=MAINNET_ADDRESS)
        order_id = states.place(session, placed_with, buyer, request, utcnow())
    market.fund(order_id)
    assert market.post(market.vendor, order_id, "ship").status_code == 200
    body = market.post(market.buyer, order_id, "extend").json()
    assert body["terms"]["finalize_extension_seconds"] == 60
    assert _at(body["finalize_at"]) == _at(body["shipped_at"]) + timedelta(
        seconds=body["terms"]["finalize_window_seconds"] + 60
    )


def test_after_the_extension_the_deadline_job_waits_and_a_dispute_is_still_allowed(market: Market) -> None:
    order_id = market.shipped_order()
    assert market.post(market.buyer, order_id, "extend").status_code == 200
    order = market.order(order_id)
    assert order.shipped_at is not None
    old_deadline = order.shipped_at + timedelta(seconds=order.finalize_window_seconds)
    new_deadline = old_deadline + timedelta(seconds=EXTENSION)

    assert market.deadline(order_id, "finalize", old_deadline) is states.DeadlineResult.RESCHEDULED
    assert market.state(order_id) is OrderState.SHIPPED
    assert market.jobs(order_id, "escrow.deadline")[-1].run_at == new_deadline

    # Past the old deadline (the shipment moved back in time), before the new one: a dispute is taken.
    market.set_time(order_id, shipped_at=ago(order.finalize_window_seconds + 60))
    response = market.post(market.buyer, order_id, "dispute", {"reason": "Still nothing after the extension."})
    assert response.status_code == 200, response.text
    assert market.state(order_id) is OrderState.DISPUTED


def test_the_deadline_job_applies_at_the_extended_deadline(market: Market) -> None:
    order_id = market.shipped_order()
    assert market.post(market.buyer, order_id, "extend").status_code == 200
    deadline = _at(market.get(order_id)["finalize_at"])
    assert market.deadline(order_id, "finalize", deadline) is states.DeadlineResult.APPLIED
    body = market.get(order_id)
    assert body["state"] == "paying_out"
    assert body["payout"]["signers"] == ["vendor", "arbiter"]


def test_extension_refusals_change_nothing(market: Market) -> None:
    funded = market.funded_order()
    assert_api_error(market.post(market.buyer, funded, "extend"), 409, "conflict", state="funded")

    shipped = market.shipped_order()
    assert_api_error(market.post(market.vendor, shipped, "extend"), 403, "forbidden")
    stranger = market.make_person(Role.BUYER)
    assert_api_error(market.post(stranger, shipped, "extend"), 404, "not_found")

    market.set_time(shipped, shipped_at=ago(market.settings.finalize_window_seconds))
    late = market.post(market.buyer, shipped, "extend")
    assert_api_error(late, 409, "conflict", state="shipped", message="finalize window has ended")
    body = market.get(shipped)
    assert body["finalize_extended"] is False
    assert [event["to_state"] for event in body["history"]][-1] == "shipped"
    assert len(body["history"]) == 4  # placed, ready, funded, shipped: no row for a refusal


# --- races ------------------------------------------------------------------------------------


def _request(market: Market, order_id: str) -> HttpRequest:
    return HttpRequest(
        "POST",
        f"/api/v1/orders/{order_id}/extend",
        headers={"Authorization": market.buyer.client.headers["Authorization"]},
        json={},
    )


@pytest.fixture
def app_over_http(app: FastAPI, live_server: str) -> str:
    return live_server


def test_two_extensions_at_once_one_wins(market: Market, app_over_http: str) -> None:
    for _ in range(ROUNDS):
        order_id = market.shipped_order()
        answers = parallel_requests(app_over_http, [_request(market, order_id)] * 2, timeout_s=TIMEOUT_S)
        assert sorted(answer.status for answer in answers) == [200, 409], [answer.text for answer in answers]
        loser = next(answer for answer in answers if answer.status == 409)
        assert loser.json()["state"] == "shipped"
        assert "already been extended" in loser.json()["message"]
        extensions = [event for event in market.events(order_id) if event.reason and "extended" in event.reason]
        assert len(extensions) == 1


def _send(base_url: str, request: HttpRequest) -> int:
    (answer,) = parallel_requests(base_url, [request], timeout_s=TIMEOUT_S)
    return answer.status


def test_an_extension_or_the_finalize_deadline_never_both(market: Market, app_over_http: str) -> None:
    """The deadline job runs as of the deadline while the buyer extends just before it."""
    for _ in range(ROUNDS):
        order_id = market.shipped_order()
        order = market.order(order_id)
        assert order.shipped_at is not None
        deadline = order.shipped_at + timedelta(seconds=order.finalize_window_seconds)
        extend = partial(_send, app_over_http, _request(market, order_id))
        finalize = partial(market.deadline, order_id, "finalize", deadline)
        status, result = run_together([extend, finalize], timeout_s=TIMEOUT_S)
        outcome = (status.unwrap(), result.unwrap())
        assert outcome in ((200, states.DeadlineResult.RESCHEDULED), (409, states.DeadlineResult.APPLIED)), outcome
        body = market.get(order_id)
        if outcome[0] == 200:
            assert body["state"] == "shipped"
            assert body["finalize_extended"] is True
            assert market.jobs(order_id, "escrow.payout") == []
        else:
            assert body["state"] == "paying_out"
            assert body["finalize_extended"] is False
            assert len(market.jobs(order_id, "escrow.payout")) == 1


def test_a_deadline_job_that_read_the_order_before_an_extension_does_not_release_it(market: Market) -> None:
    """The job reads the order (not extended, its deadline passed by its clock), the buyer extends and
    commits, then the job writes: its compare-and-set names the extension as read and matches nothing."""
    order_id = market.shipped_order()
    order = market.order(order_id)
    assert order.shipped_at is not None
    old_deadline = order.shipped_at + timedelta(seconds=order.finalize_window_seconds)
    buyer = states.Actor(EventActor.BUYER, market.buyer.user.id)

    def deadline_job() -> Iterator[str]:
        with market.database.session() as session:
            read = session.get(Order, order_id)
            assert read is not None
            yield "read"
            try:
                result: Any = states._finalize_deadline_passes(session, read, states.DEADLINE, old_deadline)
            except states._Stale:
                result = "stale"
            yield "written"
        yield "committed"
        return result

    def extension() -> Iterator[str]:
        with market.database.session() as session:
            states.extend(session, order_id, buyer, utcnow())
            yield "written"
        yield "committed"

    run = interleave(
        {"job": deadline_job, "buyer": extension},
        ["job:read", "buyer:written", "buyer:committed", "job:written", "job:committed"],
        timeout_s=TIMEOUT_S,
    )
    assert run["buyer"].error is None
    assert run["job"].unwrap() == "stale"
    body = market.get(order_id)
    assert (body["state"], body["finalize_extended"]) == ("shipped", True)
    assert market.jobs(order_id, "escrow.payout") == []
    # The job, run again, reads the order afresh and waits for the new deadline.
    assert market.deadline(order_id, "finalize", old_deadline) is states.DeadlineResult.RESCHEDULED
