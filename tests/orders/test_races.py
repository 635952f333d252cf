"""Two actors racing for one order: exactly one transition happens, the other gets 409 (or nothing).

Requests go to the app over real HTTP at the same instant (``parallel_requests``); the worker's
side runs in a thread of its own at the same instant (``run_together``). Each race is repeated a
few times on SQLite and PostgreSQL, and each round checks the order's history: one transition,
one job, never both.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from fastapi import FastAPI

from marketplace.orders import states
from marketplace.orders.models import OrderState
from tests.orders.conftest import Market
from tests.support.api import assert_api_error
from tests.support.concurrency import HttpAnswer, HttpRequest, parallel_requests, run_together
from tests.support.factories import Person

ROUNDS = 3
TIMEOUT_S = 30.0


def _request(person: Person, order_id: str, action: str, body: dict[str, Any] | None = None) -> HttpRequest:
    return HttpRequest(
        "POST",
        f"/api/v1/orders/{order_id}/{action}",
        headers={"Authorization": person.client.headers["Authorization"]},
        json=body if body is not None else {},
    )


class _Answer:
    """An ``HttpAnswer`` with the attributes ``assert_api_error`` reads."""

    def __init__(self, answer: HttpAnswer) -> None:
        self.status_code = answer.status
        self.headers = answer.headers
        self.text = answer.text
        self._answer = answer

    def json(self) -> Any:
        return self._answer.json()


def _transitions(market: Market, order_id: str) -> list[tuple[str | None, str]]:
    return [
        (event.from_state, event.to_state) for event in market.events(order_id) if event.from_state != event.to_state
    ]


def _one_wins(answers: list[HttpAnswer], win: int) -> tuple[int, int]:
    statuses = [answer.status for answer in answers]
    assert sorted(statuses) == sorted([win, 409]), [answer.text for answer in answers]
    winner = statuses.index(win)
    return winner, 1 - winner


def _send(base_url: str, request: HttpRequest) -> int:
    (answer,) = parallel_requests(base_url, [request], timeout_s=TIMEOUT_S)
    return answer.status


@pytest.fixture
def app_over_http(app: FastAPI, live_server: str) -> str:
    return live_server


def test_two_confirms_one_payout(market: Market, app_over_http: str) -> None:
    for _ in range(ROUNDS):
        order_id = market.funded_order()
        answers = parallel_requests(
            app_over_http, [_request(market.buyer, order_id, "confirm")] * 2, timeout_s=TIMEOUT_S
        )
        _, loser = _one_wins(answers, 202)
        assert_api_error(_Answer(answers[loser]), 409, "conflict", state="paying_out")
        assert len(market.jobs(order_id, "escrow.payout")) == 1
        assert _transitions(market, order_id)[-1] == ("funded", "paying_out")


def test_confirm_or_dispute_never_both(market: Market, app_over_http: str) -> None:
    for _ in range(ROUNDS):
        order_id = market.shipped_order()
        confirm = _request(market.buyer, order_id, "confirm")
        dispute = _request(market.vendor, order_id, "dispute", {"reason": "The buyer says it broke."})
        answers = parallel_requests(app_over_http, [confirm, dispute], timeout_s=TIMEOUT_S)
        statuses = [answer.status for answer in answers]
        assert sorted(statuses) in ([200, 409], [202, 409]), [answer.text for answer in answers]
        end = market.state(order_id)
        if statuses[0] == 202:
            assert end is OrderState.PAYING_OUT
            assert_api_error(_Answer(answers[1]), 409, "conflict", state="paying_out")
            assert len(market.jobs(order_id, "escrow.payout")) == 1
        else:
            assert end is OrderState.DISPUTED
            assert_api_error(_Answer(answers[0]), 409, "conflict", state="disputed")
            assert market.jobs(order_id, "escrow.payout") == []
        assert len(_transitions(market, order_id)) == 5  # placed, ready, funded, shipped, and one more


def test_cancel_agreement_or_dispute_never_both(market: Market, app_over_http: str) -> None:
    for _ in range(ROUNDS):
        order_id = market.funded_order()
        assert market.post(market.buyer, order_id, "cancel").status_code == 200  # the buyer asks
        agree = _request(market.vendor, order_id, "cancel")
        dispute = _request(market.buyer, order_id, "dispute", {"reason": "Changed my mind: it is late."})
        answers = parallel_requests(app_over_http, [agree, dispute], timeout_s=TIMEOUT_S)
        statuses = [answer.status for answer in answers]
        assert sorted(statuses) in ([200, 409], [202, 409]), [answer.text for answer in answers]
        if statuses[0] == 202:
            assert market.state(order_id) is OrderState.PAYING_OUT
            assert_api_error(_Answer(answers[1]), 409, "conflict", state="paying_out")
            assert [job.payload["purpose"] for job in market.jobs(order_id, "escrow.payout")] == ["refund"]
        else:
            assert market.state(order_id) is OrderState.DISPUTED
            assert_api_error(_Answer(answers[0]), 409, "conflict", state="disputed")
            assert market.jobs(order_id, "escrow.payout") == []


def test_dispute_or_the_finalize_deadline_never_both(market: Market, app_over_http: str) -> None:
    """The worker runs the deadline job as of the deadline while a dispute arrives just before it."""
    for _ in range(ROUNDS):
        order_id = market.shipped_order()
        shipped_at = market.order(order_id).shipped_at
        assert shipped_at is not None
        deadline: datetime = shipped_at + timedelta(seconds=market.settings.finalize_window_seconds)
        request = _request(market.buyer, order_id, "dispute", {"reason": "Never arrived."})
        dispute = partial(_send, app_over_http, request)
        finalize = partial(market.deadline, order_id, "finalize", deadline)
        status, result = run_together([dispute, finalize], timeout_s=TIMEOUT_S)
        assert (status.unwrap(), result.unwrap()) in (
            (200, states.DeadlineResult.MOOT),
            (409, states.DeadlineResult.APPLIED),
        )
        end = market.state(order_id)
        assert end is (OrderState.DISPUTED if status.unwrap() == 200 else OrderState.PAYING_OUT)
        assert len(_transitions(market, order_id)) == 5
