"""The whole marketplace on the session's regtest chain, for browser journeys through an order.

``Shop`` holds what a journey needs: the live server's base URL (the app in development mode,
escrow on against the ``regtest`` cluster, a 1.5 % marketplace fee to a payee address), the
worker (``tests/orders/escrow_chain.Chain``: run in the test's own thread, one block mined between
its rounds), and three accounts made by the factories (a vendor whose payout address is a fresh
payee subaddress, a buyer, an arbiter) with a listing that ships physical goods. Each person
signs in through the sign-in page in a browser context of their own (JavaScript off).

Waiting is bounded, never timed: ``shop.advance(until, what)`` runs the worker's due jobs and
mines a block between rounds until ``until()`` holds (``Chain.run``: 80 blocks at most, then the
test fails with the order's jobs). What the person then reads is the page, reloaded.

Paying: the pay page's "Pay from demo wallet" button (development mode, the regtest payer's
wallet-rpc as the demo wallet) when the page has it; otherwise the regtest payer sends the amount
due to the escrow address (``Shop.pay`` says which it used).

Screenshots (``shot(page, name)``) are written to ``$MARKETPLACE_SCREENSHOTS_DIR/<name>.png`` only
when that variable is set (``docs/screenshots`` in the README's instructions), so a normal run
leaves the tree as it was.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.db.engine import Database
from marketplace.listings.models import Listing
from marketplace.monero.regtest import RegtestCluster
from marketplace.orders.models import EscrowPayout, Order, OrderState, PayoutState
from marketplace.settings import Settings
from tests.browser.accessibility import assert_accessible
from tests.orders.escrow_chain import Chain, payouts
from tests.support.factories import DEFAULT_PASSWORD

SCREENSHOTS_ENV = "MARKETPLACE_SCREENSHOTS_DIR"
PAGE_TIMEOUT_MS = 20_000
_ORDER_URL = re.compile(r"/orders/([^/?#]+)")


def shot(page: Page, name: str) -> Path | None:
    """Save a full-page screenshot as ``<name>.png`` in ``$MARKETPLACE_SCREENSHOTS_DIR`` (if set)."""
    directory = os.environ.get(SCREENSHOTS_ENV)
    if not directory:
        return None
    path = Path(directory) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def order_id_of(page: Page) -> str:
    """The order id in the page's URL (``/orders/{id}...``)."""
    found = _ORDER_URL.search(page.url)
    assert found is not None, f"not an order page: {page.url}"
    return found.group(1)


@dataclass
class Shop:
    base_url: str
    browser: Browser
    database: Database
    settings: Settings
    regtest: RegtestCluster
    chain: Chain
    buyer: User
    vendor: User
    arbiter: User
    listing: Listing
    vendor_address: str
    fee_address: str
    visited: list[str] = field(default_factory=list)  # every page checked with axe-core, in order
    contexts: list[BrowserContext] = field(default_factory=list)

    # --- people and pages ---------------------------------------------------------------------

    def sign_in(self, user: User) -> Page:
        """A browser context of the user's own (JavaScript off), signed in through the sign-in page."""
        context = self.browser.new_context(java_script_enabled=False, viewport={"width": 1100, "height": 900})
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        self.visit(page, "/login")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(DEFAULT_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(self.nav(page).get_by_role("link", name=user.username)).to_be_visible()
        self.check(page)
        return page

    def visit(self, page: Page, path: str) -> None:
        """Open ``path`` on the site, check it answered 200 and passes axe-core."""
        response = page.goto(f"{self.base_url}{path}")
        assert response is not None
        assert response.status == 200, f"{path}: HTTP {response.status}"
        self.check(page)

    def check(self, page: Page) -> None:
        """axe-core on the page as it is now; remembered in ``visited``."""
        assert_accessible(page)
        self.visited.append(page.url.removeprefix(self.base_url))

    @staticmethod
    def nav(page: Page) -> Locator:
        """The site's main navigation (the header's links: Orders, Sales, Disputes, Notifications...)."""
        return page.get_by_role("navigation", name="Main")

    def click(self, page: Page, role: str, name: str | re.Pattern[str], *, within: str | None = None) -> None:
        """Click a link or button (by its role and accessible name; ``within`` a landmark role, e.g.
        ``"main"``, when the header or footer has one of the same name), then check the page reached."""
        scope = page.get_by_role(within) if within else page  # type: ignore[arg-type]
        scope.get_by_role(role, name=name).click()  # type: ignore[arg-type]
        self.check(page)

    def reload(self, page: Page) -> None:
        page.reload()
        self.check(page)

    def close(self) -> None:
        for context in self.contexts:
            context.close()

    # --- the worker and the chain ---------------------------------------------------------------

    def advance(self, until: Callable[[], bool], what: str) -> int:
        """Run the worker (and mine) until ``until()``; returns the blocks mined. Bounded by ``Chain.run``."""
        return self.chain.run(until, what=what)

    def order(self, order_id: str) -> Order:
        with self.database.session() as session:
            order = session.get(Order, order_id)
            assert order is not None
            return order

    def state(self, order_id: str) -> OrderState:
        return self.order(order_id).state

    def reaches(self, order_id: str, state: OrderState) -> Callable[[], bool]:
        return lambda: self.state(order_id) is state

    def confirmed_payout(self, order_id: str) -> EscrowPayout:
        (payout,) = [payout for payout in payouts(self.database, order_id) if payout.state is PayoutState.CONFIRMED]
        return payout

    def listing_now(self) -> Listing:
        with self.database.session() as session:
            listing = session.scalar(select(Listing).where(Listing.id == self.listing.id))
            assert listing is not None
            return listing

    # --- paying ----------------------------------------------------------------------------------

    def pay(self, page: Page, order_id: str) -> str:
        """On the pay page: pay the amount due. ``"demo wallet"`` (the button) or ``"regtest payer"``."""
        button = page.get_by_role("button", name="Pay from demo wallet")
        if button.count():
            button.click()
            self.check(page)
            return "demo wallet"
        order = self.order(order_id)
        assert order.escrow_address is not None
        self.regtest.pay(order.escrow_address, order.amount_atomic)
        return "regtest payer"
