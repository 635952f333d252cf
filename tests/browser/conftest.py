"""Debian's headless Chromium (Playwright, JavaScript off) against the ``live_server`` fixture.

Chromium must be installed (`make test` installs it): a missing browser fails the run, it is
never skipped. Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from marketplace.settings import Settings, load_settings
from tests.conftest import TEST_SECRET_KEY

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Development mode: cookies without the Secure flag, since the browser talks plain HTTP to
    # 127.0.0.1 here (production sits behind nginx with TLS).
    return load_settings(
        env="development",
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        network="mainnet",
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(java_script_enabled=False)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page
