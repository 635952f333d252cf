"""The message, question, review and notification pages with JavaScript off (POST, 303, GET), both databases."""

from __future__ import annotations

import re

from markupsafe import escape
from sqlalchemy import update

from marketplace.accounts.models import Role, User
from marketplace.messages.models import OrderMessage, QuestionMessage
from marketplace.messages.services import MESSAGE_MAX_LENGTH
from marketplace.reviews.models import Review
from tests.orders.conftest import Market
from tests.social.helpers import completed_order, count
from tests.support.factories import Person

MARKUP = '<script>alert("x")</script><b>bold</b>'
PGP_KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF\n=AbCd\n-----END PGP PUBLIC KEY BLOCK-----"


def _submit(person: Person, page: str, data: dict[str, str], action: str | None = None) -> object:
    return person.client.submit(page, action or page, data)


def _header_count(person: Person) -> int:
    match = re.search(r'<a href="/notifications">Notifications \((\d+)\)</a>', person.client.get("/account").text)
    assert match, "no notifications link in the header"
    return int(match.group(1))


def test_order_messages_page_escapes_markup_and_keeps_pgp_text(market: Market) -> None:
    order_id = market.funded_order()
    page = f"/orders/{order_id}/messages"
    sent = market.buyer.client.submit(page, page, {"text": MARKUP})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{page}?notice=sent"
    armored = "-----BEGIN PGP MESSAGE-----\n\nhQEMA5Xq7w\n  kept  spaces\n=XyZ1\n-----END PGP MESSAGE-----"
    assert market.vendor.client.submit(page, page, {"text": armored}).status_code == 303
    shown = market.vendor.client.get(page)
    assert shown.status_code == 200
    assert MARKUP not in shown.text
    assert f'<pre class="typed">{escape(MARKUP)!s}</pre>' in shown.text
    assert f'<pre class="typed">{armored}</pre>' in shown.text
    # Each party's PGP key is one click away.
    assert f'href="/pgp-keys/{market.buyer.username}"' in shown.text
    assert f'href="/pgp-keys/{market.vendor.username}"' in shown.text
    assert '<label for="message-text">Message</label>' in shown.text
    assert ">Send</button>" in shown.text


def test_refused_message_pages_change_nothing(market: Market) -> None:
    order_id = market.funded_order()
    page = f"/orders/{order_id}/messages"
    stranger = market.make_person(Role.BUYER)
    assert stranger.client.get(page).status_code == 404
    token = market.buyer.client.csrf_token(page)
    stranger_token = stranger.client.csrf_token("/account")
    assert stranger.client.post(page, data={"csrf_token": stranger_token, "text": "hi"}).status_code == 404
    assert market.arbiter.client.get(page).status_code == 404  # no dispute
    oversized = market.buyer.client.post(page, data={"csrf_token": token, "text": "x" * (MESSAGE_MAX_LENGTH + 1)})
    assert oversized.status_code == 422
    assert "at most 10,000 are allowed" in oversized.text
    assert 'aria-invalid="true"' in oversized.text
    assert count(market, OrderMessage) == 0


def test_the_header_counts_unread_notifications_and_mark_all_as_read(market: Market) -> None:
    order_id = market.funded_order()
    assert _header_count(market.vendor) == 3  # placed, escrow ready, paid
    page = f"/orders/{order_id}/messages"
    market.buyer.client.submit(page, page, {"text": "Hello"})
    assert _header_count(market.vendor) == 4
    listed = market.vendor.client.get("/notifications")
    assert listed.status_code == 200
    assert "4 unread." in listed.text
    assert f'href="/orders/{order_id}/messages"' in listed.text
    done = market.vendor.client.submit("/notifications", "/notifications/read", {})
    assert done.status_code == 303
    assert done.headers["location"] == "/notifications?notice=read"
    after = market.vendor.client.get(done.headers["location"])
    assert "0 unread." in after.text
    assert "Notifications (0)" in after.text
    assert _header_count(market.buyer) == 2  # the buyer's own news is untouched


def test_a_buyer_asks_from_the_listing_page_and_the_vendor_answers(market: Market) -> None:
    listing_page = market.buyer.client.get(f"/listings/{market.listing.id}")
    assert f'<a href="/listings/{market.listing.id}/questions">Ask the vendor</a>' in listing_page.text
    page = f"/listings/{market.listing.id}/questions"
    form = market.buyer.client.get(page)
    assert '<label for="question-text">Question</label>' in form.text
    asked = market.buyer.client.submit(page, page, {"text": MARKUP})
    assert asked.status_code == 303
    vendor_view = market.vendor.client.get(page)
    assert str(escape(MARKUP)) in vendor_view.text
    assert MARKUP not in vendor_view.text
    (thread_id,) = re.findall(r'name="thread_id" value="(\d+)"', vendor_view.text)
    answered = market.vendor.client.submit(page, page, {"text": "Brand new.", "thread_id": thread_id})
    assert answered.status_code == 303
    assert "Brand new." in market.buyer.client.get(page).text
    # The vendor must name a thread; nothing is written without one.
    token = market.vendor.client.csrf_token(page)
    refused = market.vendor.client.post(page, data={"csrf_token": token, "text": "To whom?"})
    assert refused.status_code == 422
    assert count(market, QuestionMessage) == 2


def test_review_and_reply_pages(market: Market) -> None:
    shipped = market.shipped_order()
    # The review form of an order not completed leads to the order's page.
    early = market.buyer.client.get(f"/orders/{shipped}/review")
    assert early.status_code == 303
    assert early.headers["location"] == f"/orders/{shipped}"
    token = market.buyer.client.csrf_token("/account")
    before = market.buyer.client.post(
        f"/orders/{shipped}/review", data={"csrf_token": token, "rating": "5", "text": "ok"}
    )
    assert before.status_code == 409
    order_id = completed_order(market)
    page = f"/orders/{order_id}/review"
    assert f'<a href="{page}">Leave a review</a>' in market.buyer.client.get(f"/orders/{order_id}").text
    assert "Leave a review" not in market.vendor.client.get(f"/orders/{order_id}").text
    form = market.buyer.client.get(page)
    assert form.status_code == 200
    assert '<label for="review-rating">Rating</label>' in form.text
    assert '<label for="review-text">Review</label>' in form.text
    for bad in ("0", "6", "five"):
        refused = market.buyer.client.post(page, data={"csrf_token": token, "rating": bad, "text": "Nice"})
        assert refused.status_code == 422
        assert "a whole number from 1 to 5" in refused.text
    assert count(market, Review) == 0
    published = market.buyer.client.submit(page, page, {"rating": "4", "text": MARKUP})
    assert published.status_code == 303
    assert published.headers["location"] == f"/vendors/{market.vendor.username}?notice=reviewed"
    again = market.buyer.client.post(page, data={"csrf_token": token, "rating": "5", "text": "Again"})
    assert again.status_code == 409
    assert market.buyer.client.get(page).status_code == 303  # reviewed: the form leads to the review
    order_page = market.buyer.client.get(f"/orders/{order_id}").text
    assert "Leave a review" not in order_page
    assert f"/vendors/{market.vendor.username}#review-" in order_page
    profile = market.vendor.client.get(f"/vendors/{market.vendor.username}")
    assert "Rated <strong>4.0 out of 5</strong> from 1 review." in profile.text
    assert str(escape(MARKUP)) in profile.text
    assert MARKUP not in profile.text
    (review_id,) = re.findall(r'action="/reviews/(\d+)/reply"', profile.text)
    assert f'<label for="reply-{review_id}">Reply</label>' in profile.text
    assert 'action="/reviews/' not in market.buyer.client.get(f"/vendors/{market.vendor.username}").text
    replied = market.vendor.client.submit(
        f"/vendors/{market.vendor.username}", f"/reviews/{review_id}/reply", {"text": "Thanks"}
    )
    assert replied.status_code == 303
    vendor_token = market.vendor.client.csrf_token("/account")
    second = market.vendor.client.post(f"/reviews/{review_id}/reply", data={"csrf_token": vendor_token, "text": "More"})
    assert second.status_code == 409
    assert "replies once" in second.text
    shown = market.buyer.client.get(f"/vendors/{market.vendor.username}").text
    assert f"Reply from {market.vendor.username}" in shown
    assert "More" not in shown


def test_a_second_reply_with_a_faulty_text_is_told_the_review_has_its_reply(market: Market) -> None:
    """The reply form is gone once replied: a field's message would be shown nowhere (a blank 422 page)."""
    order_id = completed_order(market)
    market.buyer.client.submit(
        f"/orders/{order_id}/review", f"/orders/{order_id}/review", {"rating": "5", "text": "Ok"}
    )
    profile = market.vendor.client.get(f"/vendors/{market.vendor.username}").text
    (review_id,) = re.findall(r'action="/reviews/(\d+)/reply"', profile)
    replied = market.vendor.client.submit(
        f"/vendors/{market.vendor.username}", f"/reviews/{review_id}/reply", {"text": "Thanks"}
    )
    assert replied.status_code == 303
    token = market.vendor.client.csrf_token("/account")
    for faulty in ("x" * 2_001, "", "a\x00b"):
        again = market.vendor.client.post(f"/reviews/{review_id}/reply", data={"csrf_token": token, "text": faulty})
        assert again.status_code == 409
        assert "This review has its reply already: a vendor replies once." in again.text


def test_pgp_keys_are_one_click_away_for_the_people_of_an_order_only(market: Market) -> None:
    with market.database.session() as session:
        session.execute(update(User).where(User.id == market.buyer.user.id).values(pgp_key=PGP_KEY))
    stranger = market.make_person(Role.BUYER)
    assert stranger.client.get(f"/pgp-keys/{market.buyer.username}").status_code == 404
    market.funded_order()
    shown = market.vendor.client.get(f"/pgp-keys/{market.buyer.username}")
    assert shown.status_code == 200
    assert PGP_KEY in shown.text
    assert stranger.client.get(f"/pgp-keys/{market.buyer.username}").status_code == 404
    # A vendor's key is public (their profile shows it too).
    vendor_page = stranger.client.get(f"/pgp-keys/{market.vendor.username}")
    assert vendor_page.status_code == 200
    assert "has not published a PGP key" in vendor_page.text
