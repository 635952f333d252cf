"""The browser reaches the site with JavaScript off."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.browser


def test_an_unknown_page_shows_the_not_found_page(page: Page, live_server: str) -> None:
    response = page.goto(f"{live_server}/no-such-page")
    assert response is not None
    assert response.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
    assert page.get_by_role("link", name="Back to the marketplace").is_visible()
