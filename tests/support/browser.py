"""Driving the pages in the browser tests: log in, upload, take a screenshot."""

from __future__ import annotations

import shutil
from pathlib import Path

from support.service import PROJECT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = PROJECT / "test-artifacts" / "screenshots"
PASSWORD = "a long demo password"


def login(browser, service, username: str, password: str = PASSWORD, **context_options):
    context = browser.new_context(accept_downloads=True, **context_options)
    page = context.new_page()
    page.goto(service.url + "/assignments")
    assert "/login" in page.url  # not logged in: sent to the login page
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/assignments")
    return page


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def upload(page, handin: Path) -> None:
    page.set_input_files("#handin", str(handin))
    page.click("#upload-form button[type=submit]")
