"""A real headless Chromium (Debian's), shared by the browser tests of a module."""

from __future__ import annotations

import os

import pytest
from playwright import sync_api as playwright_api
from support.browser import CHROMIUM


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):  # never skipped without a word: `make test` installs it
        pytest.fail("Debian's chromium is not installed: sudo apt-get install -y chromium")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
