"""Who may do what to an order, and what a refusal changes (nothing).

- Someone who is not a party (another buyer or vendor, an admin, an arbiter before a dispute):
  404 on every order route, the same answer as for an id that names no order.
- A party in the wrong role: 403. A transition the state does not allow: 409 naming the state.
- The step-up for money: with two-factor on, confirm and decide need the current code (422 on
  the field ``totp_code`` when it is missing or wrong, as every other check of a code on the site).
"""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select

from marketplace.accounts import totp
from marketplace.accounts.models import LoginFailure, Role, User
from marketplace.db.base import utcnow
from marketplace.jobs.models import Job
from marketplace.orders.models import OrderEvent, OrderState, PayoutPurpose
from tests.orders.conftest import Market
from tests.orders.test_paths import pay_out
from tests.support.api import assert_api_error
from tests.support.factories import Person

# Every order route, with a body it accepts.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "", None),
    ("GET", "/payment-qr.svg", None),
    ("POST", "/ship", {"note": "sent"}),
    ("POST", "/confirm", {}),
    ("POST", "/cancel", {}),
    ("POST", "/decline", None),
    ("POST", "/dispute", {"reason": "broken"}),
    ("POST", "/claim", None),
    ("POST", "/decision", {"outcome": "refund", "reason": "ok"}),
]


def _snapshot(market: Market, order_id: str) -> tuple[Any, ...]:
    with market.database.session() as session:
        events = session.scalar(select(func.count()).select_from(OrderEvent).where(OrderEvent.order_id == order_id))
        jobs = session.scalar(select(func.count()).select_from(Job).where(Job.order_id == order_id))
    return market.state(order_id), events, jobs, market.stock()


def _call(person: Person, order_id: str, method: str, suffix: str, body: dict[str, Any] | None) -> Any:
    return person.client.request(method, f"/api/v1/orders/{order_id}{suffix}", json=body)


@pytest.mark.parametrize("stranger", [Role.BUYER, Role.VENDOR, Role.ARBITER, Role.ADMIN])
def test_a_stranger_gets_404_on_every_route_and_nothing_changes(market: Market, stranger: Role) -> None:
    order_id = market.funded_order()
    person = market.make_person(stranger)
    before = _snapshot(market, order_id)
    for method, suffix, body in ROUTES:
        response = _call(person, order_id, method, suffix, body)
        assert_api_error(response, 404, "not_found", message="There is no such order.")
        # An id naming no order at all is answered the same way.
        assert_api_error(
            _call(person, "f" * 32, method, suffix, body), 404, "not_found", message="There is no such order."
        )
    assert _snapshot(market, order_id) == before


def test_ids_that_cannot_name_an_order_are_404(market: Market) -> None:
    for text in ("1", "F" * 32, "0" * 31, "0" * 33, "g" * 32, "%20" + "0" * 32):
        assert_api_error(market.buyer.client.get(f"/api/v1/orders/{text}"), 404, "not_found")


# (who, route suffix, body) a party may not do in their role: each 403, the order untouched.
WRONG_ROLE = [
    ("buyer", "/ship", {}),
    ("buyer", "/decline", None),
    ("buyer", "/claim", None),
    ("buyer", "/decision", {"outcome": "refund", "reason": "mine"}),
    ("vendor", "/confirm", {}),
    ("vendor", "/payment-qr.svg", None),
    ("vendor", "/claim", None),
    ("vendor", "/decision", {"outcome": "release", "reason": "mine"}),
    ("arbiter", "/ship", {}),
    ("arbiter", "/confirm", {}),
    ("arbiter", "/cancel", {}),
    ("arbiter", "/decline", None),
    ("arbiter", "/dispute", {"reason": "x"}),
    ("arbiter", "/payment-qr.svg", None),
]


@pytest.mark.parametrize(("who", "suffix", "body"), WRONG_ROLE)
def test_a_party_in_the_wrong_role_gets_403(market: Market, who: str, suffix: str, body: dict[str, Any] | None) -> None:
    order_id = market.disputed_order() if who == "arbiter" else market.funded_order()
    before = _snapshot(market, order_id)
    method = "GET" if suffix.endswith(".svg") else "POST"
    assert_api_error(_call(getattr(market, who), order_id, method, suffix, body), 403, "forbidden")
    assert _snapshot(market, order_id) == before


def test_an_arbiter_sees_no_order_without_a_dispute(market: Market) -> None:
    order_id = market.funded_order()
    assert_api_error(market.arbiter.client.get(f"/api/v1/orders/{order_id}"), 404, "not_found")
    assert market.arbiter.client.get("/api/v1/orders").json()["items"] == []


# (who, action, body, the state the order is put in first): each 409 naming that state.
BAD_STATE = [
    ("vendor", "ship", {}, "placed"),
    ("vendor", "ship", {}, "awaiting_payment"),
    ("vendor", "ship", {}, "shipped"),
    ("buyer", "confirm", {}, "awaiting_payment"),
    ("buyer", "confirm", {}, "paying_out"),
    ("buyer", "dispute", {"reason": "x"}, "awaiting_payment"),
    ("buyer", "dispute", {"reason": "x"}, "completed"),
    ("vendor", "dispute", {"reason": "x"}, "disputed"),
    ("buyer", "dispute", {"reason": "x"}, "paying_out"),
    ("vendor", "decline", None, "funded"),
    ("buyer", "cancel", {}, "paying_out"),
    ("buyer", "cancel", {}, "cancelled"),
    ("buyer", "cancel", {}, "completed"),
    ("arbiter", "decision", {"outcome": "refund", "reason": "again"}, "paying_out"),
    ("arbiter", "claim", None, "resolved"),
]


def _awaiting_payment(market: Market) -> str:
    order_id = market.place()
    market.ready(order_id)
    return order_id


def _cancelled(market: Market) -> str:
    order_id = market.place()
    market.post(market.buyer, order_id, "cancel")
    return order_id


def _completed(market: Market) -> str:
    order_id = market.funded_order()
    market.post(market.buyer, order_id, "confirm")
    assert pay_out(market, order_id, PayoutPurpose.RELEASE, signers=("buyer", "vendor")) is OrderState.COMPLETED
    return order_id


def _decided(market: Market) -> str:
    order_id = market.disputed_order()
    market.post(market.arbiter, order_id, "decision", {"outcome": "refund", "reason": "decided"})
    return order_id


def _resolved(market: Market) -> str:
    order_id = _decided(market)
    assert pay_out(market, order_id, PayoutPurpose.REFUND, signers=("arbiter", "buyer")) is OrderState.RESOLVED
    return order_id


# A new order in each state, moved there through the API and the worker's functions.
_PUT_IN = {
    "placed": Market.place,
    "awaiting_payment": _awaiting_payment,
    "cancelled": _cancelled,
    "funded": Market.funded_order,
    "shipped": Market.shipped_order,
    "disputed": Market.disputed_order,
    "paying_out": _decided,
    "completed": _completed,
    "resolved": _resolved,
}


@pytest.mark.parametrize(("who", "action", "body", "state"), BAD_STATE)
def test_a_transition_the_state_does_not_allow_is_409_naming_the_state(
    market: Market, who: str, action: str, body: dict[str, Any] | None, state: str
) -> None:
    order_id = _PUT_IN[state](market)
    assert market.state(order_id) is OrderState(state)
    before = _snapshot(market, order_id)
    assert_api_error(market.post(getattr(market, who), order_id, action, body), 409, "conflict", state=state)
    assert _snapshot(market, order_id) == before


def _enable_two_factor(market: Market, person: Person) -> str:
    secret = totp.new_secret()
    with market.database.session() as session:
        user = session.get(User, person.user.id)
        assert user is not None
        user.totp_secret, user.totp_enabled_at = secret, utcnow()
    return secret


def _code(secret: str, steps_ahead: int = 0) -> str:
    return str(pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead))


def _wrong(secret: str) -> str:
    accepted = {_code(secret, step) for step in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in accepted)


def _failures(market: Market) -> int:
    return market.count(LoginFailure)


def test_confirming_with_two_factor_on_needs_the_current_code(market: Market) -> None:
    order_id = market.funded_order()
    secret = _enable_two_factor(market, market.buyer)
    assert_api_error(market.post(market.buyer, order_id, "confirm"), 422, "invalid", field="totp_code")
    assert _failures(market) == 0  # no code given: no guess to count
    wrong = market.post(market.buyer, order_id, "confirm", {"totp_code": _wrong(secret)})
    assert_api_error(wrong, 422, "invalid", field="totp_code")
    assert _failures(market) > 0  # a wrong code counts like a failed sign-in (in each throttling scope)
    assert market.state(order_id) is OrderState.FUNDED
    assert market.post(market.buyer, order_id, "confirm", {"totp_code": _code(secret)}).status_code == 202
    assert market.state(order_id) is OrderState.PAYING_OUT


def test_a_code_is_not_accepted_twice(market: Market) -> None:
    first, second = market.funded_order(), market.funded_order()
    secret = _enable_two_factor(market, market.buyer)
    code = _code(secret)
    assert market.post(market.buyer, first, "confirm", {"totp_code": code}).status_code == 202
    assert_api_error(
        market.post(market.buyer, second, "confirm", {"totp_code": code}), 422, "invalid", field="totp_code"
    )
    assert market.state(second) is OrderState.FUNDED


def test_deciding_with_two_factor_on_needs_the_current_code(market: Market) -> None:
    order_id = market.disputed_order()
    secret = _enable_two_factor(market, market.arbiter)
    decision = {"outcome": "release", "reason": "Delivered, says the carrier."}
    assert_api_error(market.post(market.arbiter, order_id, "decision", decision), 422, "invalid", field="totp_code")
    assert market.state(order_id) is OrderState.DISPUTED
    accepted = market.post(market.arbiter, order_id, "decision", {**decision, "totp_code": _code(secret)})
    assert accepted.status_code == 202, accepted.text


def test_a_right_code_on_a_refused_transition_counts_no_failure(market: Market) -> None:
    order_id = market.place()
    secret = _enable_two_factor(market, market.buyer)
    response = market.post(market.buyer, order_id, "confirm", {"totp_code": _code(secret)})
    assert_api_error(response, 409, "conflict", state="placed")
    assert _failures(market) == 0
