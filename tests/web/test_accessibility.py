"""Every page, checked by axe-core in the real browser: no serious or critical accessibility violation
(keyboard-reachable scrolling blocks, named table headers, form controls that can be seen, ...)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from support.browser import PASSWORD, login
from support.service import run_cli

BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def course(live_service, make_handin):
    """An assignment with one graded submission of a failing handin (its page has the most to check)."""
    now = datetime.now(UTC)
    env = live_service.env
    run_cli(
        env, "assignment", "hw1-bonus", "--title", "HW1 Bonus", "--due", (now + timedelta(days=2)).isoformat()
    )
    for username, role in (("alice", "student"), ("ta", "ta")):
        run_cli(
            env, "create-user", username, "--name", username.title(), "--role", role, "--password", PASSWORD
        )
    with live_service.client(run_cli(env, "token", "issue", "alice").strip()) as client:
        created = client.post(
            "/api/v1/assignments/hw1-bonus/submissions",
            files={"file": ("handin.tar", make_handin("a11y-stub", stub=True).read_bytes())},
        )
        live_service.submission = live_service.wait_graded(client, created.json()["id"])["id"]
    return live_service


def violations(page) -> list[str]:
    """The serious and critical violations axe-core finds on the page, one line each."""
    found = Axe().run(page).response["violations"]
    return [
        f"{violation['id']} ({violation['impact']}): {node['html'][:160]}"
        for violation in found
        if violation["impact"] in BLOCKING
        for node in violation["nodes"]
    ]


STUDENT_PAGES = [
    "/assignments",
    "/assignments/hw1-bonus",
    "/submissions/{id}",
    "/submissions/{id}/files",
    "/assignments/hw1-bonus/public",
    "/account",
]
STAFF_PAGES = [
    "/assignments/hw1-bonus/scoreboard",
    "/assignments/hw1-bonus/settings",
    "/assignments/hw1-bonus/students/alice",
    "/submissions/{id}",
    "/assignments/hw1-bonus/similarity",
    "/roster",
    "/gradebook",
    "/course",
    "/no-such-page",
]


def test_the_login_page_has_no_serious_violation_and_the_check_sees_one(course, browser):
    page = browser.new_page()
    page.goto(course.url + "/login")
    assert violations(page) == []
    page.evaluate(
        "document.querySelector('input[name=password]').closest('label').replaceWith("
        "Object.assign(document.createElement('input'), {type: 'password'}))"
    )
    assert any(problem.startswith("label (critical)") for problem in violations(page))


@pytest.mark.parametrize("username, paths", [("alice", STUDENT_PAGES), ("ta", STAFF_PAGES)])
def test_every_page_has_no_serious_violation(course, browser, username, paths):
    page = login(browser, course, username)
    found = {}
    for path in paths:
        page.goto(course.url + path.format(id=course.submission))
        page.wait_for_load_state("networkidle")
        if problems := violations(page):
            found[path] = problems
    assert found == {}
