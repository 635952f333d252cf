"""Order messages and listing questions through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from marketplace.accounts.models import Role
from marketplace.messages.models import OrderMessage, QuestionMessage, QuestionThread
from marketplace.messages.services import MESSAGE_MAX_LENGTH
from tests.orders.conftest import Market
from tests.social.helpers import count, notifications_of
from tests.support.api import assert_api_error

PGP_MESSAGE = (
    "-----BEGIN PGP MESSAGE-----\n\nhQEMA5Xq7wNnE1FhAQf/aB+c/d=\n  indented line\n=XyZ1\n-----END PGP MESSAGE-----"
)


def test_buyer_and_vendor_talk_and_the_arbiter_reads_once_disputed(market: Market) -> None:
    order_id = market.funded_order()
    path = f"/api/v1/orders/{order_id}/messages"
    sent = market.buyer.client.post(path, json={"text": "When do you ship?"})
    assert sent.status_code == 201, sent.text
    assert sent.json()["role"] == "buyer"
    assert sent.json()["author"] == market.buyer.username
    answered = market.vendor.client.post(path, json={"text": PGP_MESSAGE})
    assert answered.status_code == 201, answered.text
    assert answered.json()["text"] == PGP_MESSAGE  # armored text kept byte for byte
    # Before a dispute an arbiter is nobody on this order.
    assert_api_error(market.arbiter.client.get(path), 404, "not_found")
    assert_api_error(market.arbiter.client.post(path, json={"text": "hello"}), 404, "not_found")
    assert market.post(market.buyer, order_id, "dispute", {"reason": "Nothing arrived."}).status_code == 200
    read = market.arbiter.client.get(path)
    assert read.status_code == 200, read.text
    assert [item["text"] for item in read.json()["items"]] == ["When do you ship?", PGP_MESSAGE]
    assert {person["role"] for person in read.json()["participants"]} == {"buyer", "vendor"}
    assert market.arbiter.client.post(path, json={"text": "Please send proof of shipping."}).status_code == 201
    body = market.buyer.client.get(path).json()
    assert [item["role"] for item in body["items"]] == ["buyer", "vendor", "arbiter"]
    assert body["items"][0]["pgp_key_url"] == f"/pgp-keys/{market.buyer.username}"


def test_a_message_notifies_the_other_parties_not_its_author(market: Market) -> None:
    order_id = market.funded_order()
    before_vendor = len(notifications_of(market, market.vendor.user.id))
    before_buyer = len(notifications_of(market, market.buyer.user.id))
    assert market.buyer.client.post(f"/api/v1/orders/{order_id}/messages", json={"text": "Hi"}).status_code == 201
    vendor_news = notifications_of(market, market.vendor.user.id)[before_vendor:]
    assert [(row.kind, row.link) for row in vendor_news] == [("message", f"/orders/{order_id}/messages")]
    assert len(notifications_of(market, market.buyer.user.id)) == before_buyer


def test_refused_messages_change_nothing(market: Market) -> None:
    order_id = market.funded_order()
    path = f"/api/v1/orders/{order_id}/messages"
    stranger = market.make_person(Role.BUYER)
    other_vendor = market.make_person(Role.VENDOR)
    assert_api_error(stranger.client.post(path, json={"text": "Let me in"}), 404, "not_found")
    assert_api_error(other_vendor.client.get(path), 404, "not_found")
    too_long = "x" * (MESSAGE_MAX_LENGTH + 1)
    assert_api_error(market.buyer.client.post(path, json={"text": too_long}), 422, "invalid", field="text")
    assert_api_error(market.buyer.client.post(path, json={"text": "  \n "}), 422, "invalid", field="text")
    assert_api_error(market.buyer.client.post(path, json={"text": "a\x00b"}), 422, "invalid", field="text")
    assert_api_error(market.buyer.client.post(path, json={}), 422, "invalid", field="text")
    assert_api_error(market.buyer.client.post("/api/v1/orders/nope/messages", json={"text": "x"}), 404, "not_found")
    assert count(market, OrderMessage) == 0
    assert market.buyer.client.get(path).json()["items"] == []
    exactly = market.buyer.client.post(path, json={"text": "y" * MESSAGE_MAX_LENGTH})
    assert exactly.status_code == 201, exactly.text[:300]


def test_markup_is_stored_as_typed_and_returned_as_text(market: Market) -> None:
    order_id = market.funded_order()
    markup = '<script>alert("x")</script><b>bold</b>'
    sent = market.buyer.client.post(f"/api/v1/orders/{order_id}/messages", json={"text": markup})
    assert sent.status_code == 201
    assert market.vendor.client.get(f"/api/v1/orders/{order_id}/messages").json()["items"][0]["text"] == markup


def test_a_buyer_asks_and_the_vendor_answers_in_that_thread(market: Market) -> None:
    path = f"/api/v1/listings/{market.listing.id}/questions"
    other_buyer = market.make_person(Role.BUYER)
    asked = market.buyer.client.post(path, json={"text": "Is it new?"})
    assert asked.status_code == 201, asked.text
    (thread,) = asked.json()["threads"]
    assert thread["buyer"] == market.buyer.username
    assert other_buyer.client.post(path, json={"text": "Colour?"}).status_code == 201
    # The vendor sees both threads, each buyer only their own.
    seen = market.vendor.client.get(path).json()
    assert {one["buyer"] for one in seen["threads"]} == {market.buyer.username, other_buyer.username}
    assert [one["buyer"] for one in other_buyer.client.get(path).json()["threads"]] == [other_buyer.username]
    answered = market.vendor.client.post(path, json={"text": "Brand new.", "thread_id": thread["id"]})
    assert answered.status_code == 201, answered.text
    mine = market.buyer.client.get(path).json()["threads"]
    assert [(m["author"], m["from_vendor"], m["text"]) for m in mine[0]["messages"]] == [
        (market.buyer.username, False, "Is it new?"),
        (market.vendor.username, True, "Brand new."),
    ]
    assert [row.kind for row in notifications_of(market, market.buyer.user.id)] == ["question"]
    assert [row.kind for row in notifications_of(market, market.vendor.user.id)] == ["question", "question"]
    # A second question goes into the same thread.
    assert market.buyer.client.post(path, json={"text": "Thanks!"}).status_code == 201
    assert count(market, QuestionThread) == 2


def test_refused_questions_change_nothing(market: Market) -> None:
    path = f"/api/v1/listings/{market.listing.id}/questions"
    other_vendor = market.make_person(Role.VENDOR)
    assert_api_error(market.vendor.client.post(path, json={"text": "Hello"}), 422, "invalid", field="thread_id")
    assert_api_error(other_vendor.client.post(path, json={"text": "Hello"}), 403, "forbidden")
    assert_api_error(market.arbiter.client.get(path), 403, "forbidden")
    too_long = "q" * (MESSAGE_MAX_LENGTH + 1)
    assert_api_error(market.buyer.client.post(path, json={"text": too_long}), 422, "invalid", field="text")
    assert_api_error(
        market.buyer.client.post("/api/v1/listings/999999/questions", json={"text": "?"}), 404, "not_found"
    )
    assert count(market, QuestionThread) == 0
    assert market.buyer.client.post(path, json={"text": "Is it new?"}).status_code == 201
    other_buyer = market.make_person(Role.BUYER)
    (thread,) = market.vendor.client.get(path).json()["threads"]
    # Another buyer cannot write in someone else's thread; a vendor cannot answer in another listing's.
    hijack = other_buyer.client.post(path, json={"text": "me too", "thread_id": thread["id"]})
    assert_api_error(hijack, 404, "not_found")
    assert count(market, QuestionMessage) == 1
