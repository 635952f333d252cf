"""Every path of the escrow state machine through the API, the worker's side called as its job handlers will.

Each test follows an order to its end (or to the payout the worker must make) and checks what a
party sees: the state, the history (one row per transition, with its transaction ids), the job
the worker is given (kind, purpose, signers), the stock.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
import segno
from sqlalchemy import update

from marketplace.accounts.models import AccountStatus, Role, User
from marketplace.db.base import utcnow
from marketplace.monero.amounts import format_xmr
from marketplace.orders import states
from marketplace.orders.models import OrderState, PayoutPurpose
from marketplace.settings import SignerRole
from tests.orders.conftest import PRICE, Market, ago, escrow_address
from tests.support.api import assert_api_error

DESTINATION_ADDRESS = "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge"


def _payout_job(market: Market, order_id: str) -> dict[str, Any]:
    jobs = market.jobs(order_id, "escrow.payout")
    assert len(jobs) == 1, [job.payload for job in jobs]
    return jobs[0].payload


def pay_out(market: Market, order_id: str, purpose: PayoutPurpose, *, signers: tuple[str, str]) -> OrderState:
    """What the payout handler does: save the signed attempt, submit it, record its confirmations."""
    amount = market.amount(order_id)
    with market.database.session() as session:
        payout_id = states.payout_signed(
            session,
            order_id,
            states.WORKER,
            utcnow(),
            purpose=purpose,
            proposer=SignerRole(signers[0]),
            cosigner=SignerRole(signers[1]),
            destinations=[{"role": "vendor", "address": DESTINATION_ADDRESS, "amount_atomic": amount - 100}],
            network_fee_atomic=100,
            signed_tx_hex="00ff",
            txids=["c" * 64],
            key_images=["d" * 64],
        )
    with market.database.session() as session:
        states.payout_submitted(session, payout_id, states.WORKER, utcnow())
    with market.database.session() as session:
        assert states.payout_confirmed(session, payout_id, states.WORKER, utcnow(), confirmations=1) is (
            OrderState.PAYING_OUT if purpose is not PayoutPurpose.RETURN else market.state(order_id)
        )
    with market.database.session() as session:
        return states.payout_confirmed(session, payout_id, states.WORKER, utcnow(), confirmations=2)


def _transitions(body: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [
        (event["from_state"], event["to_state"])
        for event in body["history"]
        if event["from_state"] != event["to_state"]
    ]


def test_release_funded_shipped_confirmed_completed(market: Market) -> None:
    order_id = market.place()
    market.ready(order_id)
    seen = market.get(order_id)
    assert seen["state"] == "awaiting_payment"
    assert seen["escrow"]["address"] == escrow_address(order_id)
    assert seen["escrow"]["expires_at"] is not None
    assert market.pay(order_id, PRICE) is OrderState.FUNDED
    shipped = market.post(market.vendor, order_id, "ship", {"note": "Tracking 123"})
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["ship_note"] == "Tracking 123"
    finalize = market.jobs(order_id, "escrow.deadline")[-1]
    assert finalize.payload == {"deadline": "finalize"}
    assert finalize.run_at == market.order(order_id).shipped_at + timedelta(
        seconds=market.settings.finalize_window_seconds
    )
    confirmed = market.post(market.buyer, order_id, "confirm")
    assert confirmed.status_code == 202, confirmed.text
    assert confirmed.json()["payout"] == {
        "outcome": "release",
        "signers": ["buyer", "vendor"],
        "buyer_share_atomic": None,
    }
    assert _payout_job(market, order_id) == {
        "purpose": "release",
        "signers": ["buyer", "vendor"],
        "buyer_share_atomic": None,
    }
    assert pay_out(market, order_id, PayoutPurpose.RELEASE, signers=("buyer", "vendor")) is OrderState.COMPLETED
    body = market.get(order_id)
    assert body["state"] == "completed"
    assert body["escrow"]["payouts"][0]["txid"] == "c" * 64
    assert body["escrow"]["payout_confirmations"] == 2
    assert _transitions(body) == [
        (None, "placed"),
        ("placed", "awaiting_payment"),
        ("awaiting_payment", "funded"),
        ("funded", "shipped"),
        ("shipped", "paying_out"),
        ("paying_out", "completed"),
    ]
    assert body["history"][-1]["txids"] == ["c" * 64]
    assert market.stock() == 4  # sold


def test_the_buyer_may_confirm_before_shipping(market: Market) -> None:
    order_id = market.funded_order()
    assert market.post(market.buyer, order_id, "confirm").status_code == 202
    assert market.state(order_id) is OrderState.PAYING_OUT


def test_underpayment_shows_what_is_missing_then_expires_and_returns_what_arrived(market: Market) -> None:
    order_id = market.place()
    market.ready(order_id)
    assert market.pay(order_id, PRICE // 4) is OrderState.AWAITING_PAYMENT
    escrow = market.get(order_id)["escrow"]
    assert escrow["received_atomic"] == PRICE // 4
    assert escrow["missing_atomic"] == PRICE - PRICE // 4
    deadline = market.order(order_id).payment_deadline
    assert deadline is not None
    early = market.deadline(order_id, "payment", deadline - timedelta(seconds=1))
    assert early is states.DeadlineResult.RESCHEDULED
    assert market.jobs(order_id, "escrow.deadline")[-1].run_at == deadline
    # Run late (the worker was down): the deadline still applies as of then.
    late = market.deadline(order_id, "payment", deadline + timedelta(hours=5))
    assert late is states.DeadlineResult.APPLIED
    body = market.get(order_id)
    assert body["state"] == "expired"
    assert format_xmr(PRICE - PRICE // 4) in body["history"][-1]["reason"]
    assert body["history"][-1]["actor"] == "deadline"
    assert _payout_job(market, order_id)["purpose"] == "return"
    assert _payout_job(market, order_id)["signers"] == ["buyer", "arbiter"]
    assert market.stock() == 5


def test_a_payment_confirmed_after_the_deadline_does_not_fund_the_order(market: Market) -> None:
    order_id = market.place()
    market.ready(order_id)
    market.set_time(order_id, payment_deadline=ago(1))
    assert market.pay(order_id, PRICE) is OrderState.AWAITING_PAYMENT
    assert market.deadline(order_id, "payment") is states.DeadlineResult.APPLIED
    assert market.state(order_id) is OrderState.EXPIRED
    assert _payout_job(market, order_id)["purpose"] == "return"


def test_a_payment_seen_before_the_deadline_funds_the_order_once_it_is_confirmed(market: Market) -> None:
    order_id = market.place()
    market.ready(order_id)
    deadline = market.order(order_id).payment_deadline
    assert deadline is not None
    # Mined a minute before the window's end, one confirmation of the two needed.
    assert (
        market.pay(order_id, PRICE, confirmations=1, now=deadline - timedelta(minutes=1)) is OrderState.AWAITING_PAYMENT
    )
    waiting = market.deadline(order_id, "payment", deadline + timedelta(seconds=1))
    assert waiting is states.DeadlineResult.RESCHEDULED
    assert market.state(order_id) is OrderState.AWAITING_PAYMENT
    assert market.jobs(order_id, "escrow.deadline")[-1].run_at > deadline
    assert market.pay(order_id, PRICE, now=deadline + timedelta(minutes=2)) is OrderState.FUNDED
    assert market.deadline(order_id, "payment", deadline + timedelta(minutes=3)) is states.DeadlineResult.MOOT
    assert market.jobs(order_id, "escrow.payout") == []
    assert market.stock() == 4


def test_the_deadline_does_not_wait_for_a_payment_dropped_from_the_pool_or_one_that_never_confirms(
    market: Market,
) -> None:
    order_id = market.place()
    market.ready(order_id)
    deadline = market.order(order_id).payment_deadline
    assert deadline is not None
    in_pool = states.SeenPayment(txid="ab" * 32, amount_atomic=PRICE, confirmations=0, in_pool=True)
    market.worker(states.record_payments, order_id, deadline - timedelta(seconds=5), payments=[in_pool], height=100)
    assert market.deadline(order_id, "payment", deadline) is states.DeadlineResult.RESCHEDULED
    market.worker(states.record_payments, order_id, deadline + timedelta(seconds=30), payments=[], height=101)
    assert market.deadline(order_id, "payment", deadline + timedelta(minutes=1)) is states.DeadlineResult.APPLIED
    assert market.state(order_id) is OrderState.EXPIRED
    assert market.jobs(order_id, "escrow.payout") == []

    stuck = market.place()
    market.ready(stuck)
    deadline = market.order(stuck).payment_deadline
    assert deadline is not None
    market.pay(stuck, PRICE, confirmations=1, now=deadline - timedelta(seconds=5))
    assert market.deadline(stuck, "payment", deadline + timedelta(minutes=5)) is states.DeadlineResult.RESCHEDULED
    # Still not confirmed long after (three times the expected time of its blocks): it expires.
    assert market.deadline(stuck, "payment", deadline + timedelta(hours=1)) is states.DeadlineResult.APPLIED
    assert market.state(stuck) is OrderState.EXPIRED


def test_an_unpaid_order_expires_with_nothing_to_return(market: Market) -> None:
    order_id = market.place()
    market.set_time(order_id, placed_at=ago(market.settings.payment_window_seconds + 1))
    assert market.deadline(order_id, "payment") is states.DeadlineResult.APPLIED
    assert market.state(order_id) is OrderState.EXPIRED
    assert market.jobs(order_id, "escrow.payout") == []
    assert market.stock() == 5
    assert market.deadline(order_id, "payment") is states.DeadlineResult.MOOT


def test_overpayment_funds_the_order_and_the_excess_is_held_for_the_payout(market: Market) -> None:
    order_id = market.place()
    market.ready(order_id)
    assert market.pay(order_id, PRICE // 2, PRICE) is OrderState.FUNDED
    escrow = market.get(order_id)["escrow"]
    assert escrow["received_atomic"] == PRICE + PRICE // 2
    assert [payment["amount_atomic"] for payment in escrow["payments"]] == [PRICE // 2, PRICE]


def test_payments_count_only_with_enough_confirmations(market: Market) -> None:
    order_id = market.place()
    market.ready(order_id)
    assert market.pay(order_id, PRICE, confirmations=1) is OrderState.AWAITING_PAYMENT
    escrow = market.get(order_id)["escrow"]
    assert (escrow["received_atomic"], escrow["pending_atomic"]) == (0, PRICE)
    assert market.pay(order_id, PRICE) is OrderState.FUNDED


@pytest.mark.parametrize(
    ("who", "action", "end"),
    [("buyer", "cancel", "cancelled"), ("vendor", "cancel", "cancelled"), ("vendor", "decline", "declined")],
)
def test_before_payment_a_party_ends_the_order_and_the_units_come_back(
    market: Market, who: str, action: str, end: str
) -> None:
    order_id = market.place(quantity=2)
    market.ready(order_id)
    assert market.stock() == 3
    response = market.post(getattr(market, who), order_id, action)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == end
    assert market.stock() == 5
    assert market.jobs(order_id, "escrow.payout") == []


def test_what_arrived_before_a_cancellation_and_any_late_payment_go_back(market: Market) -> None:
    order_id = market.place()
    market.ready(order_id)
    market.pay(order_id, PRICE // 2)
    assert market.post(market.buyer, order_id, "cancel").status_code == 200
    assert [job.payload["purpose"] for job in market.jobs(order_id, "escrow.payout")] == ["return"]
    # A payment seen in the pool, then confirmed after the order ended: one more return, with its row.
    market.pay(order_id, PRICE // 2, PRICE, confirmations=0)
    assert len(market.jobs(order_id, "escrow.payout")) == 1
    assert market.pay(order_id, PRICE // 2, PRICE) is OrderState.CANCELLED
    assert len(market.jobs(order_id, "escrow.payout")) == 2
    last = market.get(order_id)["history"][-1]
    assert last["from_state"] == last["to_state"] == "cancelled"
    assert "goes back to the buyer" in last["reason"]
    market.pay(order_id, PRICE // 2, PRICE)  # seen again: nothing new
    assert len(market.jobs(order_id, "escrow.payout")) == 2
    assert _return(market, order_id) is OrderState.CANCELLED


def _return(market: Market, order_id: str) -> OrderState:
    return pay_out(market, order_id, PayoutPurpose.RETURN, signers=("buyer", "arbiter"))


def test_a_payment_to_a_completed_order_goes_back(market: Market) -> None:
    order_id = market.funded_order()
    market.post(market.buyer, order_id, "confirm")
    pay_out(market, order_id, PayoutPurpose.RELEASE, signers=("buyer", "vendor"))
    market.pay(order_id, PRICE, PRICE // 10)
    jobs = market.jobs(order_id, "escrow.payout")
    assert [job.payload["purpose"] for job in jobs] == ["release", "return"]
    assert market.state(order_id) is OrderState.COMPLETED


def test_mutual_cancellation_asked_agreed_refunded(market: Market) -> None:
    order_id = market.funded_order()
    asked = market.post(market.buyer, order_id, "cancel")
    assert asked.status_code == 200
    assert asked.json()["state"] == "funded"
    assert asked.json()["cancel_request"]["by"] == "buyer"
    assert_api_error(market.post(market.buyer, order_id, "cancel"), 409, "conflict", state="funded")
    agreed = market.post(market.vendor, order_id, "cancel")
    assert agreed.status_code == 202, agreed.text
    assert agreed.json()["payout"]["signers"] == ["buyer", "vendor"]
    assert _payout_job(market, order_id)["purpose"] == "refund"
    assert market.stock() == 4  # back only when the refund is confirmed
    assert pay_out(market, order_id, PayoutPurpose.REFUND, signers=("buyer", "vendor")) is OrderState.REFUNDED
    assert market.stock() == 5


def test_a_request_to_cancel_can_be_withdrawn(market: Market) -> None:
    order_id = market.shipped_order()
    market.post(market.vendor, order_id, "cancel")
    withdrawn = market.post(market.vendor, order_id, "cancel", {"withdraw": True})
    assert withdrawn.status_code == 200
    assert withdrawn.json()["cancel_request"] is None
    assert_api_error(
        market.post(market.vendor, order_id, "cancel", {"withdraw": True}), 409, "conflict", state="shipped"
    )
    # The buyer's cancel now only asks: there is no request to agree to.
    assert market.post(market.buyer, order_id, "cancel").json()["cancel_request"]["by"] == "buyer"
    assert market.state(order_id) is OrderState.SHIPPED


def test_a_dispute_supersedes_a_request_to_cancel(market: Market) -> None:
    order_id = market.funded_order()
    market.post(market.buyer, order_id, "cancel")
    disputed = market.post(market.vendor, order_id, "dispute", {"reason": "The buyer asked for something else."})
    assert disputed.status_code == 200
    assert disputed.json()["cancel_request"] is None
    assert_api_error(market.post(market.buyer, order_id, "cancel"), 409, "conflict", state="disputed")


def test_after_the_ship_window_the_buyer_cancels_alone(market: Market) -> None:
    order_id = market.funded_order()
    assert market.post(market.buyer, order_id, "cancel").status_code == 200  # inside the window: a request
    market.post(market.buyer, order_id, "cancel", {"withdraw": True})
    market.set_time(order_id, funded_at=ago(market.settings.ship_window_seconds + 1))
    refunded = market.post(market.buyer, order_id, "cancel")
    assert refunded.status_code == 202, refunded.text
    assert refunded.json()["payout"] == {
        "outcome": "refund",
        "signers": ["buyer", "arbiter"],
        "buyer_share_atomic": None,
    }
    assert _payout_job(market, order_id)["signers"] == ["buyer", "arbiter"]
    assert pay_out(market, order_id, PayoutPurpose.REFUND, signers=("buyer", "arbiter")) is OrderState.REFUNDED
    assert market.stock() == 5


def test_a_shipped_order_is_not_cancelled_alone_after_the_ship_window(market: Market) -> None:
    order_id = market.shipped_order()
    market.set_time(order_id, funded_at=ago(market.settings.ship_window_seconds + 1))
    assert market.post(market.buyer, order_id, "cancel").status_code == 200
    assert market.state(order_id) is OrderState.SHIPPED


def test_the_finalize_window_releases_to_the_vendor(market: Market) -> None:
    order_id = market.shipped_order()
    shipped_at = market.order(order_id).shipped_at
    assert shipped_at is not None
    window = timedelta(seconds=market.settings.finalize_window_seconds)
    early = market.deadline(order_id, "finalize", shipped_at + window - timedelta(seconds=1))
    assert early is states.DeadlineResult.RESCHEDULED
    assert market.state(order_id) is OrderState.SHIPPED
    applied = market.deadline(order_id, "finalize", shipped_at + window)
    assert applied is states.DeadlineResult.APPLIED
    body = market.get(order_id)
    assert body["state"] == "paying_out"
    assert body["payout"]["signers"] == ["vendor", "arbiter"]
    assert body["history"][-1]["actor"] == "deadline"
    assert pay_out(market, order_id, PayoutPurpose.RELEASE, signers=("vendor", "arbiter")) is OrderState.COMPLETED


def test_once_the_finalize_window_ends_a_dispute_is_refused_before_the_job_runs(market: Market) -> None:
    order_id = market.shipped_order()
    market.set_time(order_id, shipped_at=ago(market.settings.finalize_window_seconds))
    response = market.post(market.buyer, order_id, "dispute", {"reason": "Too late."})
    assert_api_error(response, 409, "conflict", state="shipped", message="finalize window has ended")


def test_a_dispute_decided_as_a_split_is_resolved(market: Market) -> None:
    order_id = market.shipped_order()
    assert market.post(market.buyer, order_id, "dispute", {"reason": "Half of it broke."}).status_code == 200
    queue = market.arbiter.client.get("/api/v1/orders").json()["items"]
    assert [item["id"] for item in queue] == [order_id]
    over = market.post(
        market.arbiter, order_id, "decision", {"outcome": "split", "buyer_share_atomic": PRICE + 1, "reason": "x"}
    )
    assert_api_error(over, 422, "invalid", field="buyer_share_atomic")
    decided = market.post(
        market.arbiter,
        order_id,
        "decision",
        {"outcome": "split", "buyer_share_atomic": PRICE // 4, "reason": "One in four broke."},
    )
    assert decided.status_code == 202, decided.text
    assert decided.json()["payout"] == {
        "outcome": "split",
        "signers": ["arbiter", "vendor"],
        "buyer_share_atomic": PRICE // 4,
    }
    for party in (market.buyer, market.vendor):
        decision = market.get(order_id, party)["decision"]
        assert decision["reason"] == "One in four broke."
        assert decision["buyer_share_atomic"] == PRICE // 4
    assert_api_error(
        market.post(market.arbiter, order_id, "decision", {"outcome": "refund", "reason": "again"}),
        409,
        "conflict",
        state="paying_out",
    )
    assert pay_out(market, order_id, PayoutPurpose.SPLIT, signers=("arbiter", "vendor")) is OrderState.RESOLVED
    assert market.stock() == 4  # a split is a sale


@pytest.mark.parametrize(("outcome", "favoured", "stock"), [("release", "vendor", 4), ("refund", "buyer", 5)])
def test_a_decision_is_signed_by_the_arbiter_and_the_favoured_party(
    market: Market, outcome: str, favoured: str, stock: int
) -> None:
    order_id = market.disputed_order()
    decided = market.post(market.arbiter, order_id, "decision", {"outcome": outcome, "reason": "Seen the photos."})
    assert decided.status_code == 202, decided.text
    assert _payout_job(market, order_id) == {
        "purpose": outcome,
        "signers": ["arbiter", favoured],
        "buyer_share_atomic": 0 if outcome == "release" else PRICE,
    }
    assert pay_out(market, order_id, PayoutPurpose(outcome), signers=("arbiter", favoured)) is OrderState.RESOLVED
    assert market.stock() == stock


def test_the_first_arbiter_to_claim_owns_the_dispute(market: Market) -> None:
    order_id = market.disputed_order()
    assert market.get(order_id, market.other_arbiter)["state"] == "disputed"  # any arbiter sees an untaken one
    claimed = market.post(market.arbiter, order_id, "claim")
    assert claimed.status_code == 200
    assert claimed.json()["dispute"]["arbiter"]["id"] == market.arbiter.user.id
    assert market.post(market.arbiter, order_id, "claim").status_code == 200  # again: nothing changes
    assert_api_error(market.other_arbiter.client.get(f"/api/v1/orders/{order_id}"), 404, "not_found")
    assert_api_error(
        market.post(market.other_arbiter, order_id, "decision", {"outcome": "refund", "reason": "mine"}),
        404,
        "not_found",
    )
    assert market.other_arbiter.client.get("/api/v1/orders").json()["items"] == []
    assert [item["id"] for item in market.arbiter.client.get("/api/v1/orders").json()["items"]] == [order_id]


def test_the_first_arbiter_to_decide_an_untaken_dispute_owns_it(market: Market) -> None:
    order_id = market.disputed_order()
    assert (
        market.post(market.other_arbiter, order_id, "decision", {"outcome": "refund", "reason": "ok"}).status_code
        == 202
    )
    assert_api_error(market.arbiter.client.get(f"/api/v1/orders/{order_id}"), 404, "not_found")
    assert market.get(order_id, market.other_arbiter)["dispute"]["arbiter"]["id"] == market.other_arbiter.user.id


def test_arbiters_see_open_disputes_oldest_first_and_the_overdue_ones_marked(market: Market) -> None:
    older, newer = market.disputed_order(), market.disputed_order()
    market.set_time(
        older, dispute_opened_at=ago(10), dispute_last_activity_at=ago(market.settings.dispute_sla_seconds + 1)
    )
    market.set_time(newer, dispute_opened_at=ago(5))
    items = market.arbiter.client.get("/api/v1/orders").json()["items"]
    assert [(item["id"], item["overdue"]) for item in items] == [(older, True), (newer, False)]
    assert market.get(older, market.arbiter)["dispute"]["overdue"] is True
    market.post(market.arbiter, older, "claim")  # touched: no longer overdue
    assert market.get(older, market.arbiter)["dispute"]["overdue"] is False


def test_suspending_a_party_strands_no_escrow(market: Market) -> None:
    order_id = market.shipped_order()
    with market.database.session() as session:
        session.execute(update(User).where(User.id == market.vendor.user.id).values(status=AccountStatus.SUSPENDED))
    assert market.post(market.buyer, order_id, "dispute", {"reason": "The vendor vanished."}).status_code == 200
    assert (
        market.post(market.arbiter, order_id, "decision", {"outcome": "refund", "reason": "Vendor gone."}).status_code
        == 202
    )
    assert pay_out(market, order_id, PayoutPurpose.REFUND, signers=("arbiter", "buyer")) is OrderState.RESOLVED


@pytest.mark.parametrize("status", [AccountStatus.SUSPENDED, AccountStatus.DELETED])
def test_a_dispute_taken_by_an_arbiter_who_is_gone_is_open_to_the_others(market: Market, status: AccountStatus) -> None:
    order_id = market.disputed_order()
    assert market.post(market.arbiter, order_id, "claim").status_code == 200
    with market.database.session() as session:
        session.execute(update(User).where(User.id == market.arbiter.user.id).values(status=status))
    # The dispute is in the other arbiters' list again, and they can see it, take it over and decide it.
    assert [item["id"] for item in market.other_arbiter.client.get("/api/v1/orders").json()["items"]] == [order_id]
    assert market.get(order_id, market.other_arbiter)["state"] == "disputed"
    taken = market.post(market.other_arbiter, order_id, "claim")
    assert taken.status_code == 200, taken.text
    assert taken.json()["dispute"]["arbiter"]["id"] == market.other_arbiter.user.id
    assert taken.json()["history"][-1]["reason"].startswith("An arbiter took over the dispute")
    third = market.make_person(Role.ARBITER)  # taken over by an active arbiter: theirs alone again
    assert_api_error(third.client.get(f"/api/v1/orders/{order_id}"), 404, "not_found")
    decided = market.post(market.other_arbiter, order_id, "decision", {"outcome": "refund", "reason": "Vendor gone."})
    assert decided.status_code == 202, decided.text
    assert pay_out(market, order_id, PayoutPurpose.REFUND, signers=("arbiter", "buyer")) is OrderState.RESOLVED
    assert_api_error(third.client.get(f"/api/v1/orders/{order_id}"), 404, "not_found")


def test_a_dispute_taken_by_a_gone_arbiter_can_be_decided_without_a_claim(market: Market) -> None:
    order_id = market.disputed_order()
    assert market.post(market.arbiter, order_id, "claim").status_code == 200
    with market.database.session() as session:
        session.execute(update(User).where(User.id == market.arbiter.user.id).values(status=AccountStatus.SUSPENDED))
    decided = market.post(market.other_arbiter, order_id, "decision", {"outcome": "release", "reason": "Shipped."})
    assert decided.status_code == 202, decided.text
    assert decided.json()["dispute"]["arbiter"]["id"] == market.other_arbiter.user.id


def test_the_payment_qr_code_holds_the_address_and_what_is_missing(market: Market) -> None:
    order_id = market.place()
    path = f"/api/v1/orders/{order_id}/payment-qr.svg"
    assert_api_error(market.buyer.client.get(path), 409, "conflict", state="placed")
    market.ready(order_id)
    market.pay(order_id, PRICE // 5)
    response = market.buyer.client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    uri = f"monero:{escrow_address(order_id)}?tx_amount={format_xmr(PRICE - PRICE // 5)}"
    expected = segno.make(uri, error="m")
    assert response.content.startswith(b"<svg")
    out = io.BytesIO()
    expected.save(out, kind="svg", scale=4, border=4, xmldecl=False)
    assert response.content == out.getvalue()
    assert_api_error(market.vendor.client.get(path), 403, "forbidden")
    assert_api_error(market.make_person(Role.BUYER).client.get(path), 404, "not_found")
    market.pay(order_id, PRICE)
    assert_api_error(market.buyer.client.get(path), 409, "conflict", state="funded")
