"""A person with JavaScript off: register, sell with a picture, browse, search, open, sign in again."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PASSWORD = "quiet-harbour-lantern-42"


def _photo(path: Path) -> Path:
    picture = Image.new("RGB", (640, 480), (40, 120, 200))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return path


def _register(page: Page, base: str, username: str, role: str) -> None:
    page.goto(f"{base}/register")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label(re.compile("Sell" if role == "vendor" else "Buy")).check()
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("link", name=username)).to_be_visible()


def test_vendor_sells_and_a_visitor_finds_the_listing(page: Page, live_server: str, tmp_path: Path) -> None:
    _register(page, live_server, "lantern-maker", "vendor")

    page.goto(f"{live_server}/sell/new")
    page.get_by_label("Title").fill("Hand-made brass lantern")
    page.get_by_role("textbox", name=re.compile(r"^Description")).fill(
        "A **solid** brass lantern.\n\nShips in a wooden box."
    )
    page.get_by_label("Description format").select_option("markdown")
    page.get_by_label("Price in XMR").fill("0.75")
    page.get_by_label("Stock").fill("3")
    page.get_by_label("Category").select_option("home")
    page.get_by_label(re.compile(r"^Images")).set_input_files(str(_photo(tmp_path / "lantern.jpg")))
    page.get_by_role("button", name="Publish listing").click()

    expect(page.get_by_role("heading", name="Hand-made brass lantern")).to_be_visible()
    listing_url = page.url.split("?")[0]
    expect(page.locator("strong", has_text="solid")).to_be_visible()
    expect(page.get_by_text("0.75", exact=False).first).to_be_visible()
    gallery_image = page.locator("img[src^='/images/']").first
    image_src = gallery_image.get_attribute("src")
    assert image_src is not None
    assert page.request.get(f"{live_server}{image_src}").headers["content-type"].startswith("image/")

    # Sign out, and come back as a visitor who browses and searches.
    page.get_by_role("button", name="Sign out").click()
    page.goto(live_server)
    expect(page.get_by_role("link", name="Hand-made brass lantern")).to_be_visible()
    page.get_by_label("Search listings").fill("brass")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Hand-made brass lantern")).to_be_visible()
    page.get_by_label("Search listings").fill("no such thing anywhere")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Hand-made brass lantern")).to_have_count(0)

    page.goto(live_server)
    page.get_by_role("link", name="Hand-made brass lantern").click()
    assert page.url.split("?")[0] == listing_url
    expect(page.get_by_role("link", name="lantern-maker").first).to_be_visible()


def test_a_wrong_password_is_refused_and_the_right_one_signs_in(page: Page, live_server: str) -> None:
    _register(page, live_server, "careful-buyer", "buyer")
    page.get_by_role("button", name="Sign out").click()

    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill("careful-buyer")
    page.get_by_label("Password").fill("not-the-password-at-all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Wrong username or password.")).to_be_visible()

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="careful-buyer")).to_be_visible()
    # A buyer cannot open the vendor's page for new listings.
    response = page.goto(f"{live_server}/sell/new")
    assert response is not None
    assert response.status == 403
