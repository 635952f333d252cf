"""Buyer, vendor and arbiter, each in a browser of their own (JavaScript off), through real orders
on the regtest chain: one disputed and decided as a split, paid out and confirmed; one confirmed
by the buyer, paid out to the vendor and reviewed. Every page they see passes axe-core.

The site runs in development mode (uvicorn in a thread) with escrow on against the session's
regtest cluster and a 1.5 % marketplace fee; the worker runs in the test's thread between the
people's steps, mining a block between its rounds (``Shop.advance``, bounded). The people only
read pages and click; what they cannot see (the chain) is checked with the regtest wallets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from marketplace.accounts.models import Role, User
from marketplace.db.engine import Database
from marketplace.listings.models import Listing
from marketplace.monero.regtest import RegtestCluster
from marketplace.orders.models import OrderState, PayoutPurpose
from marketplace.runtime import build_runtime
from marketplace.settings import Settings, load_settings
from tests.browser.order_stack import Shop, order_id_of, shot
from tests.conftest import TEST_SECRET_KEY
from tests.orders.escrow_chain import Chain

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    # Measured 55-150 s each (the wallets' work, on 2 cores shared with the rest of `make test`);
    # every wait inside is bounded by Chain.run's rounds, this is the backstop.
    pytest.mark.timeout(600),
]

FEE_BASIS_POINTS = 150
PRICE = 250_000_000_000  # 0.25 XMR
PICONERO_PER_XMR = 10**12
SHIPPING = "Ada Lovelace, 12 Harbour Road, Portsmouth PO1 2AB"


@pytest.fixture
def fee_address(regtest: RegtestCluster) -> str:
    return regtest.new_personal_address()


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, escrow_settings: dict[str, Any], regtest: RegtestCluster, fee_address: str
) -> Settings:
    # Development mode: plain-HTTP cookies on 127.0.0.1, and the "Pay from demo wallet" button,
    # whose demo wallet is the regtest payer's wallet-rpc (when this version has that setting).
    demo_wallet = {"dev_wallet_url": regtest.payer.url} if "dev_wallet_url" in Settings.model_fields else {}
    return load_settings(
        env="development",
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        **escrow_settings,
        payment_poll_seconds=0,
        fee_basis_points=FEE_BASIS_POINTS,
        fee_address=fee_address,
        **demo_wallet,
    )


@pytest.fixture
def shop(  # noqa: PLR0917  (pytest passes fixtures by name)
    browser: Browser,
    live_server: str,
    database: Database,
    settings: Settings,
    regtest: RegtestCluster,
    make_user: Callable[..., User],
    make_listing: Callable[..., Listing],
    fee_address: str,
) -> Iterator[Shop]:
    vendor_address = regtest.new_personal_address()
    vendor = make_user(Role.VENDOR)
    with database.session() as session:
        session.execute(update(User).where(User.id == vendor.id).values(payout_address=vendor_address))
    listing_fields: dict[str, Any] = {"title": "Brass ship's lantern", "price_atomic": PRICE, "stock": 4}
    if hasattr(Listing, "ships_physical"):
        listing_fields["ships_physical"] = True
    chain = Chain.start(regtest, build_runtime(settings, database))
    shop = Shop(
        base_url=live_server,
        browser=browser,
        database=database,
        settings=settings,
        regtest=regtest,
        chain=chain,
        buyer=make_user(Role.BUYER),
        vendor=vendor,
        arbiter=make_user(Role.ARBITER),
        listing=make_listing(vendor=vendor, **listing_fields),
        vendor_address=vendor_address,
        fee_address=fee_address,
    )
    try:
        yield shop
    finally:
        shop.close()
        chain.close()


# --- steps a person takes ------------------------------------------------------------------------


def _buy(shop: Shop, buyer: Page, refund_address: str) -> str:
    """From the home page to the listing, the Buy form filled, the order placed: its id."""
    shop.visit(buyer, "/")
    shop.click(buyer, "link", shop.listing.title)
    # Before placing: the price, the fee and who holds the escrow keys, explained on "How it works".
    expect(buyer.get_by_text("0.25", exact=False).first).to_be_visible()
    shop.click(buyer, "link", re.compile(r"^How it works$"), within="main")
    expect(buyer.get_by_role("heading", name="Who holds the money")).to_be_visible()
    buyer.go_back()
    buyer.get_by_label("Quantity").fill("1")
    buyer.get_by_label("Refund address").fill(refund_address)
    buyer.get_by_label("Shipping details").fill(SHIPPING)
    shop.click(buyer, "button", "Place order")
    order_id = order_id_of(buyer)
    assert buyer.url.split("?")[0].endswith(f"/orders/{order_id}")
    expect(buyer.get_by_role("heading", name="Where is my money")).to_be_visible()
    return order_id


def _pay(shop: Shop, buyer: Page, order_id: str, *, screenshot: str | None = None) -> str:
    """The escrow set up, the buyer opens the pay page from the order page and pays; funded."""
    shop.advance(shop.reaches(order_id, OrderState.AWAITING_PAYMENT), what="the escrow's setup")
    shop.reload(buyer)
    shop.click(buyer, "link", "Pay")
    order = shop.order(order_id)
    assert order.escrow_address is not None
    expect(buyer.get_by_text(order.escrow_address).first).to_be_visible()
    expect(buyer.get_by_text(str(order.amount_atomic), exact=False).first).to_be_visible()
    expect(buyer.locator(f"img[src='/orders/{order_id}/qr.svg']")).to_have_attribute("alt", re.compile(r"\S"))
    if screenshot:
        shot(buyer, screenshot)
    how = shop.pay(buyer, order_id)
    if "dev_wallet_url" in Settings.model_fields:
        assert how == "demo wallet", "development mode: the pay page must offer 'Pay from demo wallet'"

    # The payment seen (in the pool or a first block): the pay page says so while it confirms.
    shop.advance(lambda: _payment_seen(shop, order_id), what="the payment to be seen")
    if shop.state(order_id) is OrderState.AWAITING_PAYMENT:
        shop.visit(buyer, f"/orders/{order_id}/pay")
        expect(buyer.get_by_role("heading", name="Payment seen")).to_be_visible()
    shop.advance(shop.reaches(order_id, OrderState.FUNDED), what="the payment's confirmations")
    # The pay page of a paid order leads to the order page.
    shop.visit(buyer, f"/orders/{order_id}/pay")
    assert buyer.url.split("?")[0].endswith(f"/orders/{order_id}")
    return how


def _payment_seen(shop: Shop, order_id: str) -> bool:
    order = shop.order(order_id)
    return order.pending_atomic > 0 or order.received_atomic > 0 or order.state is not OrderState.AWAITING_PAYMENT


def _ship(shop: Shop, vendor: Page, order_id: str) -> None:
    """The vendor finds the order among their orders, reads where to send it and marks it shipped."""
    shop.nav(vendor).get_by_role("link", name="Orders").click()
    shop.check(vendor)
    vendor.locator(f"a[href='/orders/{order_id}']").first.click()
    shop.check(vendor)
    expect(vendor.get_by_text(SHIPPING)).to_be_visible()
    vendor.get_by_label("Shipping note").fill("Royal Mail, tracking RM123456789GB.")
    shop.click(vendor, "button", "Mark as shipped")
    assert shop.state(order_id) is OrderState.SHIPPED


def _xmr(atomic: int) -> str:
    return format(Decimal(atomic) / PICONERO_PER_XMR, "f")


# --- the journeys ----------------------------------------------------------------------------------


def test_a_disputed_order_is_decided_as_a_split_and_both_parties_are_paid(shop: Shop) -> None:
    buyer, vendor, arbiter = shop.sign_in(shop.buyer), shop.sign_in(shop.vendor), shop.sign_in(shop.arbiter)
    refund_address = shop.regtest.new_personal_address()

    order_id = _buy(shop, buyer, refund_address)
    _pay(shop, buyer, order_id, screenshot="pay-page")
    _ship(shop, vendor, order_id)

    # The buyer opens a dispute with a reason.
    shop.reload(buyer)
    buyer.get_by_label("Reason").fill("Half of the lantern's glass arrived broken.")
    shop.click(buyer, "button", "Open dispute")
    assert shop.state(order_id) is OrderState.DISPUTED
    # ... and writes to the vendor in the order's messages, which the arbiter now reads too.
    evidence = "Photos of the broken glass, taken as the parcel was opened: <img src=x> (shown as typed)."
    shop.click(buyer, "link", "Messages", within="main")
    buyer.get_by_label("Message").fill(evidence)
    shop.click(buyer, "button", "Send")
    expect(buyer.get_by_text(evidence)).to_be_visible()

    # The arbiter finds it in the queue, takes it, reads it, decides a split with a reason.
    shop.nav(arbiter).get_by_role("link", name="Disputes").click()
    shop.check(arbiter)
    arbiter.locator(f"a[href='/orders/{order_id}']").first.click()
    shop.check(arbiter)
    expect(arbiter.get_by_text("Half of the lantern's glass arrived broken.").first).to_be_visible()
    shop.click(arbiter, "button", "Take this dispute")
    shop.click(arbiter, "link", "Messages", within="main")
    expect(arbiter.get_by_text(evidence)).to_be_visible()
    shop.click(arbiter, "link", f"PGP key of {shop.buyer.username}")
    shop.visit(arbiter, f"/orders/{order_id}")
    shop.click(arbiter, "link", re.compile(r"decision|decide", re.IGNORECASE))
    assert arbiter.url.split("?")[0].endswith(f"/orders/{order_id}/decision")
    share = 100_000_000_000  # 0.1 XMR back to the buyer
    reason = "The carrier's photos show half of the glass broken: 0.1 XMR goes back to the buyer."
    arbiter.get_by_label("Split").check()
    arbiter.get_by_label("Buyer's share (XMR)").fill(_xmr(share))
    arbiter.get_by_label("Reason given to both parties").fill(reason)
    shot(arbiter, "arbiter-decision")
    shop.click(arbiter, "button", "Decide")
    assert shop.state(order_id) is OrderState.PAYING_OUT

    shop.advance(shop.reaches(order_id, OrderState.RESOLVED), what="the split payout")
    payout = shop.confirmed_payout(order_id)
    assert payout.purpose is PayoutPurpose.SPLIT

    # Both parties read the reason, and see the payout's transaction on their order page.
    for page in (buyer, vendor, arbiter):
        shop.visit(page, f"/orders/{order_id}")
        expect(page.get_by_text(reason).first).to_be_visible()
        expect(page.get_by_role("heading", name="Where is my money")).to_be_visible()
        for txid in payout.txids:
            expect(page.get_by_text(txid).first).to_be_visible()
    shot(buyer, "timeline")

    # The vendor was told of each step that concerned them: the header counts the unread ones.
    shop.nav(vendor).get_by_role("link", name=re.compile(r"^Notifications \([1-9][0-9]*\)$")).click()
    shop.check(vendor)
    expect(vendor.locator(f"main a[href='/orders/{order_id}']").first).to_be_visible()
    shop.click(vendor, "button", "Mark all as read")
    expect(shop.nav(vendor).get_by_role("link", name="Notifications (0)")).to_be_visible()

    # On the chain: each address received its part (less its share of the network fee).
    parts = {destination["role"]: destination for destination in payout.destinations}
    assert parts["buyer"]["address"] == refund_address
    assert parts["vendor"]["address"] == shop.vendor_address
    assert share - payout.network_fee_atomic < parts["buyer"]["amount_atomic"] < share
    for role, address in (("buyer", refund_address), ("vendor", shop.vendor_address)):
        assert shop.regtest.received(address) == parts[role]["amount_atomic"] > 0, role
    assert shop.regtest.received(shop.fee_address) == parts["marketplace_fee"]["amount_atomic"] > 0


def test_a_confirmed_order_pays_the_vendor_and_the_review_shows_on_the_profile(shop: Shop) -> None:
    buyer, vendor = shop.sign_in(shop.buyer), shop.sign_in(shop.vendor)

    order_id = _buy(shop, buyer, shop.regtest.new_personal_address())
    _pay(shop, buyer, order_id)
    _ship(shop, vendor, order_id)

    shop.reload(buyer)
    shop.click(buyer, "button", "Confirm receipt")
    assert shop.state(order_id) in {OrderState.PAYING_OUT, OrderState.COMPLETED}
    shop.advance(shop.reaches(order_id, OrderState.COMPLETED), what="the release to the vendor")
    payout = shop.confirmed_payout(order_id)
    assert payout.purpose is PayoutPurpose.RELEASE

    # The vendor sees the payout confirmed, with its transaction id.
    shop.visit(vendor, f"/orders/{order_id}")
    for txid in payout.txids:
        expect(vendor.get_by_text(txid).first).to_be_visible()
    expect(vendor.get_by_text(re.compile(r"confirmed", re.IGNORECASE)).first).to_be_visible()
    (vendor_part,) = [item for item in payout.destinations if item["role"] == "vendor"]
    assert shop.regtest.received(shop.vendor_address) == vendor_part["amount_atomic"] > 0

    # The vendor's sales summary counts it as completed, paid to them.
    shop.nav(vendor).get_by_role("link", name="Sales").click()
    shop.check(vendor)
    expect(vendor.get_by_role("heading", name="Sales", level=1)).to_be_visible()
    expect(vendor.get_by_role("definition").filter(has_text=re.compile(r"^1 \(0\.25 XMR\)$")).first).to_be_visible()

    # The buyer leaves a review; it shows on the vendor's profile.
    shop.visit(buyer, f"/orders/{order_id}")
    shop.click(buyer, "link", "Leave a review")
    rating = buyer.get_by_label("Rating")
    if rating.evaluate("element => element.tagName") == "SELECT":
        rating.select_option("5")
    else:
        rating.fill("5")
    review = "Beautiful lantern, well packed, arrived in four days."
    buyer.get_by_label("Review").fill(review)
    shop.click(buyer, "button", "Publish review")
    shop.visit(buyer, f"/vendors/{shop.vendor.username}")
    expect(buyer.get_by_text(review)).to_be_visible()
    expect(buyer.get_by_text("Rated 5.0 out of 5 from 1 review")).to_be_visible()
