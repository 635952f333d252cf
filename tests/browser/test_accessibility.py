"""axe-core on the public pages, and the check itself failing on a page that breaks a rule."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from marketplace.accounts.models import Role, User
from marketplace.listings.models import Listing
from tests.browser.accessibility import assert_accessible

pytestmark = pytest.mark.browser


def test_the_public_pages_have_no_accessibility_violation(
    page: Page, live_server: str, make_user: Callable[..., User], make_listing: Callable[..., Listing]
) -> None:
    vendor = make_user(Role.VENDOR, username="lamp-maker")
    listing = make_listing(vendor=vendor, title="Brass oil lamp", description="Polished, with a glass chimney.")
    for path in (
        "/",
        "/?q=lamp",
        f"/listings/{listing.id}",
        "/vendors/lamp-maker",
        "/register",
        "/login",
        "/no-such-page",
    ):
        page.goto(f"{live_server}{path}")
        assert_accessible(page)


def test_a_violation_fails_with_its_rule_impact_and_element(page: Page) -> None:
    page.set_content(
        '<!doctype html><html lang="en"><head><title>Form</title></head>'
        '<body><main><h1>Form</h1><input id="refund" type="text"></main></body></html>'
    )
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page)
    assert "- label (critical): Form elements must have labels" in str(failure.value)
    assert "    #refund" in str(failure.value)
