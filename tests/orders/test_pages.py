"""The order pages for buyer, vendor and arbiter, with JavaScript off: forms POST, then 303, then GET.

The worker's side is called directly (``market``), as in test_paths.py, so every state is reached
without a chain. Each test reads the pages as a person would: the words, the links, the forms.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from marketplace.accounts.models import Role
from marketplace.db.base import utcnow
from marketplace.listings.models import Listing
from marketplace.monero.amounts import format_xmr
from marketplace.orders import states
from marketplace.orders.models import Order, OrderState, PayoutPurpose
from tests.orders.conftest import PRICE, Market, ago, escrow_address, txid
from tests.orders.test_paths import pay_out
from tests.support.factories import MAINNET_ADDRESS, STAGENET_ADDRESS, Person

HOSTILE = '<script>alert("x")</script><b>bold</b>'


def _page(person: Person, path: str, status: int = 200) -> str:
    response = person.client.get(path)
    assert response.status_code == status, (path, response.status_code, response.text[:2000])
    return str(response.text)


def _submit(person: Person, order_id: str, action: str, data: dict[str, Any] | None = None) -> Any:
    """Post the action's form found on the order page, as a browser would."""
    return person.client.submit(f"/orders/{order_id}", f"/orders/{order_id}/{action}", data or {})


def _follow(person: Person, response: Any) -> str:
    assert response.status_code == 303, (response.status_code, response.text[:2000])
    return _page(person, response.headers["location"])


def _orders(market: Market) -> int:
    with market.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Order)) or 0)


def _text(page: str) -> str:
    """The page's text as a reader sees it: tags removed, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


# --- buying -----------------------------------------------------------------------------------


def test_the_buy_form_states_the_terms_and_places_an_order(market: Market) -> None:
    page = _page(market.buyer, f"/listings/{market.listing.id}")
    assert 'for="buy-quantity">Quantity<' in page
    assert 'for="buy-refund-address">Refund address<' in page
    assert "Shipping details" not in page  # a listing that ships nothing asks for no address
    assert "holds all three escrow keys" in page
    assert 'href="/how-it-works"' in page
    assert ">Place order<" in page

    response = market.buyer.client.submit(
        f"/listings/{market.listing.id}",
        f"/listings/{market.listing.id}/buy",
        {"quantity": "2", "refund_address": MAINNET_ADDRESS, "shipping_info": "ignored: nothing is shipped"},
    )
    assert response.status_code == 303
    order_id = response.headers["location"].split("?")[0].rsplit("/", 1)[1]
    page = _follow(market.buyer, response)
    assert "Your order is placed" in page
    assert "Placed: the escrow is being prepared" in page
    assert f"{format_xmr(2 * PRICE)} XMR" in page
    assert market.order(order_id).shipping_info is None


def test_a_refund_address_of_another_network_shows_the_form_again_and_writes_nothing(market: Market) -> None:
    before, stock = _orders(market), market.stock()
    response = market.buyer.client.submit(
        f"/listings/{market.listing.id}",
        f"/listings/{market.listing.id}/buy",
        {"quantity": "1", "refund_address": STAGENET_ADDRESS},
    )
    assert response.status_code == 422
    assert "refund_address-error" in response.text
    assert "mainnet" in _text(response.text).lower()
    assert STAGENET_ADDRESS in response.text  # what was typed is kept
    assert (_orders(market), market.stock()) == (before, stock)


def test_a_physical_listing_needs_shipping_details(market: Market, make_listing: Any) -> None:
    listing = make_listing(vendor=market.vendor.user, price_atomic=PRICE, stock=2, ships_physical=True)
    page = _page(market.buyer, f"/listings/{listing.id}")
    assert "Shipped by post" in page
    assert 'for="buy-shipping">Shipping details<' in page
    data = {"quantity": "1", "refund_address": MAINNET_ADDRESS, "shipping_info": "   "}
    refused = market.buyer.client.submit(f"/listings/{listing.id}", f"/listings/{listing.id}/buy", data)
    assert refused.status_code == 422
    assert "Enter where the vendor should ship it" in refused.text
    assert _orders(market) == 0

    data["shipping_info"] = f"1 Main Street {HOSTILE}"
    placed = market.buyer.client.submit(f"/listings/{listing.id}", f"/listings/{listing.id}/buy", data)
    order_id = placed.headers["location"].split("?")[0].rsplit("/", 1)[1]
    vendor_page = _page(market.vendor, f"/orders/{order_id}")
    assert "1 Main Street &lt;script&gt;" in vendor_page
    assert "<script>alert" not in vendor_page
    assert "1 Main Street" not in _page(market.buyer, f"/orders/{order_id}")  # shown to the vendor only


def test_bad_quantities_are_refused_on_the_form(market: Market) -> None:
    for quantity, message in (("0", "whole number from 1"), ("two", "whole number from 1"), ("99", "")):
        response = market.buyer.client.submit(
            f"/listings/{market.listing.id}",
            f"/listings/{market.listing.id}/buy",
            {"quantity": quantity, "refund_address": MAINNET_ADDRESS},
        )
        assert response.status_code == 422, quantity
        assert "quantity-error" in response.text
        assert message in response.text
    assert _orders(market) == 0


def test_the_listing_form_sets_ships_physical(market: Market) -> None:
    fields = {
        "title": "Tea cup",
        "description": "Porcelain.",
        "description_format": "plain",
        "price": "0.1",
        "stock": "3",
        "category": "home",
        "ships_physical": "yes",
    }
    created = market.vendor.client.submit("/sell/new", "/sell/new", fields)
    assert created.status_code == 303
    listing_id = int(created.headers["location"].split("?")[0].rsplit("/", 1)[1])
    assert market.vendor.client.get(f"/api/v1/listings/{listing_id}").json()["ships_physical"] is True
    assert " checked" in _page(market.vendor, f"/listings/{listing_id}/edit")
    patched = market.vendor.client.patch(f"/api/v1/listings/{listing_id}", json={"ships_physical": False})
    assert patched.status_code == 200
    assert patched.json()["ships_physical"] is False


# --- paying -----------------------------------------------------------------------------------


def test_the_pay_page_follows_the_payment(market: Market) -> None:
    order_id = market.place()
    page = _page(market.buyer, f"/orders/{order_id}")
    assert f'href="/orders/{order_id}/pay"' in page
    page = _page(market.buyer, f"/orders/{order_id}/pay")
    assert "Preparing the escrow…" in page
    assert "escrow-" not in page

    market.ready(order_id)
    page = _page(market.buyer, f"/orders/{order_id}/pay")
    assert escrow_address(order_id) in page
    assert f"{format_xmr(PRICE)} XMR" in page
    assert f"({PRICE} piconero)" in page
    assert f'src="/orders/{order_id}/qr.svg"' in page
    assert "Time left" in page
    assert "Pay from demo wallet" not in page  # production settings: no development form
    qr = market.buyer.client.get(f"/orders/{order_id}/qr.svg")
    assert qr.status_code == 200
    assert qr.headers["content-type"].startswith("image/svg+xml")

    # A third arrives in the pool: seen, and what is missing is said.
    third = PRICE // 3
    market.worker(
        states.record_payments,
        order_id,
        payments=[states.SeenPayment(txid=txid(order_id, 0), amount_atomic=third, confirmations=0, in_pool=True)],
        height=100,
    )
    page = _text(_page(market.buyer, f"/orders/{order_id}/pay"))
    assert "Payment seen" in page
    assert "in the pool" in page
    assert f"Underpaid: {format_xmr(PRICE - third)} XMR" in page

    # The rest arrives in the pool: nothing more to send (rather than "send exactly 0.0 XMR").
    market.worker(
        states.record_payments,
        order_id,
        payments=[
            states.SeenPayment(txid=txid(order_id, index), amount_atomic=amount, confirmations=0, in_pool=True)
            for index, amount in enumerate((third, PRICE - third))
        ],
        height=100,
    )
    page = _text(_page(market.buyer, f"/orders/{order_id}/pay"))
    assert "Nothing more to send" in page
    assert "Send exactly this amount" not in page
    assert "0.0 XMR" not in page

    assert market.pay(order_id, PRICE) is OrderState.FUNDED
    response = market.buyer.client.get(f"/orders/{order_id}/pay")
    assert (response.status_code, response.headers["location"]) == (303, f"/orders/{order_id}")


def test_the_pay_page_is_the_buyers(market: Market) -> None:
    order_id = market.place()
    market.ready(order_id)
    response = market.vendor.client.get(f"/orders/{order_id}/pay")
    assert (response.status_code, response.headers["location"]) == (303, f"/orders/{order_id}")
    stranger = market.make_person(Role.BUYER)
    for path in (f"/orders/{order_id}", f"/orders/{order_id}/pay", f"/orders/{order_id}/qr.svg"):
        assert stranger.client.get(path).status_code == 404, path
    assert market.arbiter.client.get(f"/orders/{order_id}").status_code == 404  # no dispute: not the arbiter's


def test_the_development_pay_form_shows_only_in_development(market: Market, settings: Any) -> None:
    assert not settings.is_development
    order_id = market.place()
    market.ready(order_id)
    assert "dev-pay" not in _page(market.buyer, f"/orders/{order_id}/pay")


# --- the whole path, with forms ---------------------------------------------------------------


def test_ship_extend_confirm_with_forms_and_the_timeline(market: Market) -> None:
    order_id = market.funded_order()
    vendor_page = _text(_page(market.vendor, f"/orders/{order_id}"))
    assert "Paid: held in escrow" in vendor_page
    assert "Ship the order and mark it as shipped" in vendor_page

    page = _follow(market.vendor, _submit(market.vendor, order_id, "ship", {"note": f"Tracking 42 {HOSTILE}"}))
    assert "The order is marked as shipped" in page
    assert "Tracking 42 &lt;script&gt;" in page
    assert "<script>alert" not in page

    buyer_page = _page(market.buyer, f"/orders/{order_id}")
    assert "Shipped: waiting for the buyer to confirm receipt" in buyer_page
    assert "Finalize deadline" in buyer_page
    assert ">Extend the deadline<" in buyer_page
    assert "later once, by 7 d." in _text(buyer_page)
    page = _follow(market.buyer, _submit(market.buyer, order_id, "extend"))
    assert "The finalize deadline is extended" in page
    assert "extended once" in page
    assert ">Extend the deadline<" not in page

    page = _follow(market.buyer, _submit(market.buyer, order_id, "confirm"))
    assert "You confirmed receipt" in page
    assert "Paying out" in page
    assert pay_out(market, order_id, PayoutPurpose.RELEASE, signers=("buyer", "vendor")) is OrderState.COMPLETED

    page = _page(market.buyer, f"/orders/{order_id}")
    money = _text(page.split("Where is my money", 1)[1])
    assert "Completed: the vendor was paid" in _text(page)
    assert txid(order_id, 0) in money  # the payment in
    assert "c" * 64 in money  # the payout out
    assert "confirmed (2 confirmations)" in money
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", money)
    vendor_page = _text(_page(market.vendor, f"/orders/{order_id}"))
    assert "Release: confirmed with 2 confirmations" in vendor_page


def test_cancel_and_decline_before_payment(market: Market) -> None:
    first = market.place()
    page = _follow(market.buyer, _submit(market.buyer, first, "cancel"))
    assert "The order is cancelled" in page
    assert market.state(first) is OrderState.CANCELLED
    second = market.place()
    assert ">Decline order<" in _page(market.vendor, f"/orders/{second}")
    page = _follow(market.vendor, _submit(market.vendor, second, "decline"))
    assert "Declined by the vendor" in page


def test_refusals_show_the_message_and_change_nothing(market: Market) -> None:
    order_id = market.funded_order()
    empty = _submit(market.buyer, order_id, "dispute", {"reason": "   "})
    assert empty.status_code == 422
    assert "Paid: held in escrow" in empty.text  # the order page again, as it is
    assert market.state(order_id) is OrderState.FUNDED

    # A form from before the order moved: shipped meanwhile, then a second ship.
    form = market.vendor.client.csrf_token(f"/orders/{order_id}")
    assert _submit(market.vendor, order_id, "ship").status_code == 303
    again = market.vendor.client.post(f"/orders/{order_id}/ship", data={"csrf_token": form, "note": "twice"})
    assert again.status_code == 409
    assert "Only a funded order can be shipped; this one is shipped." in again.text
    assert market.order(order_id).ship_note is None
    # The buyer cannot ship, the vendor cannot extend: refused with the message.
    wrong = _submit(market.vendor, order_id, "extend")
    assert wrong.status_code == 403
    assert "Only the buyer can extend" in wrong.text
    assert market.order(order_id).finalize_extended_at is None


def test_a_stranger_gets_404_on_every_order_page_and_action(market: Market) -> None:
    order_id = market.disputed_order()
    stranger = market.make_person(Role.VENDOR)
    token = stranger.client.csrf_token("/orders")
    for action in ("confirm", "cancel", "dispute", "extend", "ship", "decline", "claim", "decision"):
        response = stranger.client.post(f"/orders/{order_id}/{action}", data={"csrf_token": token, "reason": "x"})
        assert response.status_code == 404, action
    for path in ("", "/pay", "/decision"):
        assert stranger.client.get(f"/orders/{order_id}{path}").status_code == 404, path
    assert stranger.client.get("/orders/not-an-order").status_code == 404
    assert market.state(order_id) is OrderState.DISPUTED


def test_hostile_dispute_text_is_escaped(market: Market) -> None:
    order_id = market.funded_order()
    response = _submit(market.buyer, order_id, "dispute", {"reason": f"Broken {HOSTILE}"})
    page = _follow(market.buyer, response)
    assert "In dispute" in page
    for person in (market.buyer, market.vendor, market.arbiter):
        shown = _page(person, f"/orders/{order_id}")
        assert "Broken &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in shown
        assert "<b>bold</b>" not in shown


# --- the arbiter --------------------------------------------------------------------------------


def test_the_arbiter_takes_and_decides_a_split_from_the_pages(market: Market) -> None:
    old = market.disputed_order()
    market.set_time(old, dispute_opened_at=ago(3 * 86400), dispute_last_activity_at=ago(3 * 86400))
    new = market.disputed_order()
    queue = _page(market.arbiter, "/disputes")
    assert queue.index(old[:8]) < queue.index(new[:8])  # oldest first
    rows = queue.split("<tr>")
    assert "Overdue" in next(row for row in rows if old[:8] in row)
    assert "Overdue" not in next(row for row in rows if new[:8] in row)

    page = _page(market.arbiter, f"/orders/{new}")
    assert ">Take this dispute<" in page
    page = _follow(market.arbiter, _submit(market.arbiter, new, "claim"))
    assert "You took this dispute" in page
    assert ">Take this dispute<" not in page
    assert market.other_arbiter.client.get(f"/orders/{new}").status_code == 404  # taken: not theirs

    said = market.buyer.client.submit(
        f"/orders/{new}/messages", f"/orders/{new}/messages", {"text": f"Broken {HOSTILE}"}
    )
    assert said.status_code == 303
    form_page = _page(market.arbiter, f"/orders/{new}/decision")
    assert "Broken &lt;script&gt;" in form_page  # the messages, read on the decision page itself
    assert ">Messages</a>" in _page(market.arbiter, f"/orders/{new}")
    for label in ("Release to the vendor", "Refund the buyer", "Split", "Buyer's share (XMR)"):
        assert label in form_page, label
    assert "Reason given to both parties" in form_page
    token = market.arbiter.client.csrf_token(f"/orders/{new}/decision")
    too_much = market.arbiter.client.post(
        f"/orders/{new}/decision",
        data={"csrf_token": token, "outcome": "split", "buyer_share": "5", "reason": "Half each."},
    )
    assert too_much.status_code == 422
    assert "at most the amount due" in too_much.text
    for typo in ("-0.01", "1e3", "99999999999"):  # the share's own words, not the listing price's
        refused = market.arbiter.client.post(
            f"/orders/{new}/decision",
            data={"csrf_token": token, "outcome": "split", "buyer_share": typo, "reason": "Half each."},
        )
        assert refused.status_code == 422
        message = refused.text.split('class="field-error">')[1].split("</p>")[0]
        assert "buyer&#39;s share" in message
        assert "price" not in message
    assert market.state(new) is OrderState.DISPUTED
    decided = market.arbiter.client.post(
        f"/orders/{new}/decision",
        data={"csrf_token": token, "outcome": "split", "buyer_share": "0.1", "reason": f"Half {HOSTILE}"},
    )
    page = _follow(market.arbiter, decided)
    assert "The decision is made" in page
    assert "Split: 0.1 XMR to the buyer" in page
    assert "Half &lt;script&gt;" in page
    assert "Split: 0.1 XMR to the buyer" in _page(market.buyer, f"/orders/{new}")
    assert "preparing the payout" in _page(market.vendor, f"/orders/{new}")

    # Decided: the decision page leads to the order's page.
    response = market.arbiter.client.get(f"/orders/{new}/decision")
    assert (response.status_code, response.headers["location"]) == (303, f"/orders/{new}")


def test_the_decision_page_of_an_undisputed_order_leads_to_the_order(market: Market) -> None:
    order_id = market.funded_order()
    response = market.buyer.client.get(f"/orders/{order_id}/decision")
    assert (response.status_code, response.headers["location"]) == (303, f"/orders/{order_id}")
    assert market.arbiter.client.get("/disputes").status_code == 200
    assert market.buyer.client.get("/disputes").status_code == 403


# --- lists, sales, navigation -----------------------------------------------------------------


def test_the_lists_link_to_each_order_and_filter_by_state(market: Market) -> None:
    funded = market.funded_order()
    unpaid = market.place()
    for person in (market.buyer, market.vendor):
        page = _page(person, "/orders")
        assert f'href="/orders/{funded}"' in page
        assert f'href="/orders/{unpaid}"' in page
    filtered = _page(market.vendor, "/orders?state=funded")
    assert f'href="/orders/{funded}"' in filtered
    assert f'href="/orders/{unpaid}"' not in filtered
    assert "Incoming orders" in filtered


def test_the_sales_summary_counts_and_sums_by_state_and_month(market: Market) -> None:
    completed = market.funded_order()
    assert market.post(market.buyer, completed, "confirm").status_code == 202
    pay_out(market, completed, PayoutPurpose.RELEASE, signers=("buyer", "vendor"))
    market.funded_order()
    last_month = market.place()
    market.set_time(last_month, placed_at=utcnow().replace(day=1) - timedelta(days=2))

    body = market.vendor.client.get("/api/v1/sales/summary").json()
    assert body["total"] == {"count": 3, "amount_atomic": 3 * PRICE, "amount_xmr": format_xmr(3 * PRICE)}
    assert body["completed"]["count"] == 1
    assert body["in_escrow"]["count"] == 1
    assert body["open_orders"] == 2
    assert {item["state"]: item["count"] for item in body["by_state"]} == {
        "placed": 1,
        "funded": 1,
        "completed": 1,
    }
    months = [month["month"] for month in body["by_month"]]
    assert months == sorted(months, reverse=True)
    assert len(months) == 2
    assert body["by_month"][0]["orders"]["count"] == 2
    assert body["by_month"][0]["completed"]["count"] == 1

    page = _text(_page(market.vendor, "/sales"))
    assert f"Completed (paid to you) 1 ({format_xmr(PRICE)} XMR)" in page
    assert months[1] in page
    assert market.buyer.client.get("/api/v1/sales/summary").status_code == 403
    assert market.buyer.client.get("/sales").status_code == 403


def test_the_header_links_by_role_and_how_it_works(market: Market, client: Any) -> None:
    buyer = _page(market.buyer, "/")
    assert 'href="/orders">Orders<' in buyer
    assert 'href="/sales"' not in buyer
    vendor = _page(market.vendor, "/")
    assert 'href="/orders">Orders<' in vendor
    assert 'href="/sales">Sales<' in vendor
    arbiter = _page(market.arbiter, "/")
    assert 'href="/disputes">Disputes<' in arbiter
    assert 'href="/orders">Orders<' not in arbiter
    public = client.get("/how-it-works")
    assert public.status_code == 200
    assert 'href="/how-it-works">How it works<' in public.text
    text = _text(public.text)
    assert "holds all three keys" in text
    assert f"{market.settings.confirmations} confirmations" in text
    assert "14 d" in text  # the finalize window of these settings
    assert "7 d" in text  # the extension


def test_an_ended_order_offers_nothing(market: Market) -> None:
    order_id = market.place()
    with market.database.session() as session:
        session.execute(update(Order).where(Order.id == order_id).values(state=OrderState.EXPIRED, ended_at=utcnow()))
    page = _text(_page(market.buyer, f"/orders/{order_id}"))
    assert "Expired: not paid in time" in page
    assert "Nothing at the moment." in page
    assert "This order has ended" in page


@pytest.mark.parametrize("role", [Role.VENDOR, Role.ARBITER])
def test_only_buyers_see_the_buy_form(market: Market, role: Role) -> None:
    person = market.vendor if role is Role.VENDOR else market.arbiter
    page = _page(person, f"/listings/{market.listing.id}")
    assert ">Place order<" not in page
    with market.database.session() as session:
        assert session.scalar(select(Listing.ships_physical).where(Listing.id == market.listing.id)) is False
