"""A course's deadlines and grades in a real browser: a TA grants an extension, grace days cover a late
upload, scores are held then released, a TA overrides a score, and the upload form closes itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.browser import PASSWORD, login, shot, upload
from support.service import run_cli

SLUG = "flows"


@pytest.fixture(scope="module")
def course(live_service):
    """An assignment whose due date passed a day and a half ago (uploads are late by 2 days), with a
    10% penalty per day and two submissions each."""
    now = datetime.now(UTC)
    run_cli(
        live_service.env,
        "assignment",
        SLUG,
        "--title",
        "HW1 Bonus (late)",
        "--due",
        (now - timedelta(days=1.5)).isoformat(),
        "--late-deadline",
        (now + timedelta(days=3)).isoformat(),
        "--penalty-per-day",
        "0.1",
        "--max-submissions",
        "2",
    )
    for username, name, role in (("dora", "Dora Late", "student"), ("ta", "Teaching Assistant", "ta")):
        run_cli(
            live_service.env, "create-user", username, "--name", name, "--role", role, "--password", PASSWORD
        )
    return live_service


@pytest.fixture(scope="module")
def graded_late(course, make_handin):
    """Dora's first upload, from her browser: correct, two days late."""
    return make_handin("flows-correct")


def history_row(page, version: int) -> str:
    return page.inner_text(f"#history tbody tr:has(a:text-is('{version}'))")


def test_a_late_upload_is_penalised_then_a_ta_grants_an_extension(course, browser, graded_late):
    dora = login(browser, course, "dora")
    dora.goto(course.url + f"/assignments/{SLUG}")
    assert "was due 1 day" in dora.inner_text(".deadlines")
    upload(dora, graded_late)
    dora.wait_for_selector("#latest-result .total", timeout=90_000)
    assert dora.inner_text("#latest-result .total") == "20/25"
    row = history_row(dora, 1)
    assert "late 2 days" in row and "counts" in row and "20/25" in row  # filled in live, no reload
    assert "1 of 2" in dora.inner_text("#usage")

    ta = login(browser, course, "ta")
    ta.goto(course.url + f"/assignments/{SLUG}/students/dora")
    ta.fill("form.extension input[name=days]", "2")
    ta.fill("form.extension input[name=reason]", "flu, note from the doctor")
    ta.click("form.extension button[type=submit]")
    ta.wait_for_selector("text=extension: 2 days")
    assert "on time" in ta.inner_text("#history tbody tr:first-child")
    assert "flu, note from the doctor" in ta.inner_text("table.audit")
    shot(ta, "staff-extension")

    dora.reload()
    assert "includes your extension of 2 days" in dora.inner_text(".deadlines")
    assert "on time" in history_row(dora, 1) and "25/25" in history_row(dora, 1)


def test_grace_days_cover_the_late_days_once_the_course_has_them(course, browser):
    ta = login(browser, course, "ta")
    ta.goto(course.url + f"/assignments/{SLUG}/students/dora")
    ta.click("form.inline button:has-text('Remove extension')")
    ta.wait_for_selector("text=Grant extension")
    ta.goto(course.url + "/course")
    ta.fill("input[name=grace_days]", "3")
    ta.fill("input[name=time_zone]", "America/New_York")
    ta.click("form.settings button[type=submit]")
    ta.wait_for_selector("text=Saved.")

    dora = login(browser, course, "dora")
    dora.goto(course.url + f"/assignments/{SLUG}")
    assert "late 2 days, 2 grace days used" in history_row(dora, 1) and "25/25" in history_row(dora, 1)
    assert "2 of 3 used" in dora.inner_text("#usage")
    deadlines = dora.inner_text(".deadlines")
    assert "EST" in deadlines or "EDT" in deadlines  # the course's time zone
    shot(dora, "student-grace-days")


def test_scores_held_until_released_then_an_override_with_a_comment(course, browser):
    ta = login(browser, course, "ta")
    ta.goto(course.url + f"/assignments/{SLUG}/settings")
    ta.uncheck("input[name=scores_released]")
    ta.click("form.settings button[type=submit]")
    ta.wait_for_selector("text=Saved.")

    dora = login(browser, course, "dora")
    dora.goto(course.url + f"/assignments/{SLUG}")
    assert "received and graded" in dora.inner_text("#latest-result")
    assert "25/25" not in dora.inner_text("main")

    ta.goto(course.url + f"/assignments/{SLUG}/students/dora")
    ta.click("#history tbody tr:first-child td:first-child a")
    ta.fill("form.override input[name=points]", "22")
    ta.fill("form.override input[name=reason]", "the BatchNorm code is shared with another handin")
    ta.click("form.override button[type=submit]")
    ta.wait_for_selector("ul.overrides")
    ta.fill("form.comment-form textarea", "See me about BatchNorm in office hours.")
    ta.click("form.comment-form button[type=submit]")
    ta.wait_for_selector("table.audit >> text=See me about BatchNorm")
    assert "Graded 25" in ta.inner_text("#grade")  # the original stays in sight
    shot(ta, "staff-override")

    ta.goto(course.url + f"/assignments/{SLUG}/settings")
    ta.check("input[name=scores_released]")
    ta.click("form.settings button[type=submit]")
    ta.wait_for_selector("text=Saved.")
    dora.reload()
    result = dora.inner_text("#latest-result")
    assert "22/25" in result and "total set by course staff" in result
    assert "See me about BatchNorm in office hours." in result
    assert "shared with another handin" not in dora.inner_text("main")  # the reason is for staff


def test_the_upload_form_closes_itself_when_the_last_submission_is_used(course, browser, make_handin):
    dora = login(browser, course, "dora")
    dora.goto(course.url + f"/assignments/{SLUG}")
    dora.evaluate("window.notReloaded = true")
    upload(dora, make_handin("flows-stub", stub=True))
    dora.wait_for_selector("#usage[data-open=false]", timeout=30_000)
    assert dora.is_hidden("#upload-form")
    assert "you have used all 2 submissions" in dora.inner_text("#usage")
    assert "2 of 2" in dora.inner_text("#usage")
    dora.wait_for_selector("#latest-result .total", timeout=90_000)
    assert "graded: 0/25" in dora.inner_text("#upload-message")
    assert "counts" in history_row(dora, 2) and "counts" not in history_row(dora, 1)
    assert dora.evaluate("window.notReloaded") is True
    shot(dora, "student-closed")

    dora.reload()
    assert dora.query_selector("#upload-form") is None
    assert "Uploads are closed" in dora.inner_text("#upload-card")
