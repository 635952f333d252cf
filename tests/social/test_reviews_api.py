"""Reviews and replies through the API, on SQLite and PostgreSQL: once each, even when raced."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from marketplace.accounts.models import Role
from marketplace.reviews.models import Review
from tests.orders.conftest import Market
from tests.social.helpers import completed_order, count, notifications_of
from tests.support.api import assert_api_error
from tests.support.concurrency import HttpRequest, parallel_requests
from tests.support.factories import Person

ROUNDS = 3
TIMEOUT_S = 30.0


def _review(market: Market, order_id: str, person: Person | None = None, **body: Any) -> Any:
    payload = {"rating": 5, "text": "Fast and as described.", **body}
    return (person or market.buyer).client.post(f"/api/v1/orders/{order_id}/review", json=payload)


def _stored(market: Market) -> list[tuple[str, int, str, str | None]]:
    with market.database.session() as session:
        rows = session.query(Review).order_by(Review.id).all()
        return [(row.order_id, row.rating, row.text, row.reply_text) for row in rows]


def test_the_buyer_reviews_a_completed_order_once_and_the_vendor_replies_once(market: Market) -> None:
    order_id = completed_order(market)
    written = _review(market, order_id, rating=4, text="Good, a bit slow.")
    assert written.status_code == 201, written.text
    review = written.json()
    assert (review["rating"], review["text"], review["reply"]) == (4, "Good, a bit slow.", None)
    assert review["url"] == f"/vendors/{market.vendor.username}#review-{review['id']}"
    assert_api_error(_review(market, order_id), 409, "conflict", state="completed")
    replied = market.vendor.client.post(f"/api/v1/reviews/{review['id']}/reply", json={"text": "Thank you!"})
    assert replied.status_code == 200, replied.text
    assert replied.json()["reply"]["text"] == "Thank you!"
    again = market.vendor.client.post(f"/api/v1/reviews/{review['id']}/reply", json={"text": "Really!"})
    assert_api_error(again, 409, "conflict")
    assert _stored(market) == [(order_id, 4, "Good, a bit slow.", "Thank you!")]
    assert [row.kind for row in notifications_of(market, market.vendor.user.id)][-1] == "review"
    assert [row.kind for row in notifications_of(market, market.buyer.user.id)][-1] == "reply"


@pytest.mark.parametrize("rating", [0, 6, -1, 2.5, "5", True, None])
def test_a_rating_outside_1_to_5_is_refused(market: Market, rating: Any) -> None:
    order_id = completed_order(market)
    assert_api_error(_review(market, order_id, rating=rating), 422, "invalid", field="rating")
    assert count(market, Review) == 0


def test_refused_reviews_change_nothing(market: Market) -> None:
    shipped = market.shipped_order()
    assert_api_error(_review(market, shipped), 409, "conflict", state="shipped")  # before completion
    order_id = completed_order(market)
    stranger = market.make_person(Role.BUYER)
    assert_api_error(_review(market, order_id, stranger), 404, "not_found")
    assert_api_error(_review(market, order_id, market.arbiter), 404, "not_found")
    assert_api_error(_review(market, order_id, market.vendor), 403, "forbidden")
    assert_api_error(_review(market, order_id, text=""), 422, "invalid", field="text")
    assert_api_error(_review(market, order_id, text="x" * 2001), 422, "invalid", field="text")
    assert count(market, Review) == 0
    review_id = _review(market, order_id).json()["id"]
    for person in (market.buyer, stranger, market.make_person(Role.VENDOR)):
        refused = person.client.post(f"/api/v1/reviews/{review_id}/reply", json={"text": "Mine"})
        assert_api_error(refused, 403, "forbidden")
    assert_api_error(market.vendor.client.post("/api/v1/reviews/999999/reply", json={"text": "x"}), 404, "not_found")
    long_reply = market.vendor.client.post(f"/api/v1/reviews/{review_id}/reply", json={"text": "r" * 2001})
    assert_api_error(long_reply, 422, "invalid", field="text")
    assert _stored(market) == [(order_id, 5, "Fast and as described.", None)]


def _post(person: Person, path: str, body: dict[str, Any]) -> HttpRequest:
    return HttpRequest("POST", path, headers={"Authorization": person.client.headers["Authorization"]}, json=body)


@pytest.fixture
def app_over_http(app: FastAPI, live_server: str) -> str:
    return live_server


def test_two_reviews_at_once_one_is_written(market: Market, app_over_http: str) -> None:
    for _ in range(ROUNDS):
        order_id = completed_order(market)
        requests = [
            _post(market.buyer, f"/api/v1/orders/{order_id}/review", {"rating": rating, "text": f"{rating} stars"})
            for rating in (2, 5)
        ]
        answers = parallel_requests(app_over_http, requests, timeout_s=TIMEOUT_S)
        assert sorted(answer.status for answer in answers) == [201, 409], [answer.text for answer in answers]
        winner = answers[[answer.status for answer in answers].index(201)].json()
        stored = [row for row in _stored(market) if row[0] == order_id]
        assert stored == [(order_id, winner["rating"], winner["text"], None)]


def test_two_replies_at_once_one_is_written(market: Market, app_over_http: str) -> None:
    for _ in range(ROUNDS):
        order_id = completed_order(market)
        review_id = _review(market, order_id).json()["id"]
        path = f"/api/v1/reviews/{review_id}/reply"
        answers = parallel_requests(
            app_over_http,
            [_post(market.vendor, path, {"text": "First"}), _post(market.vendor, path, {"text": "Second"})],
            timeout_s=TIMEOUT_S,
        )
        assert sorted(answer.status for answer in answers) == [200, 409], [answer.text for answer in answers]
        winner = answers[[answer.status for answer in answers].index(200)].json()
        (row,) = [row for row in _stored(market) if row[0] == order_id]
        assert row[3] == winner["reply"]["text"]
