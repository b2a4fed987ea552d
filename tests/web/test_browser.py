"""Students and course staff in a real headless Chromium against the live service."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.browser import PASSWORD, login, shot, upload
from support.handins import tar_bytes
from support.service import run_cli
from support.similarity_sources import DISGUISED, edits


@pytest.fixture(scope="module")
def course(live_service):
    env = live_service.env
    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    run_cli(
        env,
        "assignment",
        "hw1-bonus",
        "--title",
        "HW1 Bonus: Adam, Dropout and BatchNorm",
        "--due",
        due,
        "--late-deadline",
        (datetime.now(UTC) + timedelta(days=4)).isoformat(),
        "--penalty-per-day",
        "0.1",
    )
    for username, name, role in (
        ("alice", "Alice Liddell", "student"),
        ("bob", "Bob Builder", "student"),
        ("ta", "Teaching Assistant", "ta"),
    ):
        run_cli(env, "create-user", username, "--name", name, "--role", role, "--password", PASSWORD)
    return live_service


def test_student_sees_full_marks_then_the_failing_test_without_reloading(course, browser, make_handin):
    page = login(browser, course, "alice")
    page.click("text=HW1 Bonus: Adam, Dropout and BatchNorm")
    page.wait_for_url("**/assignments/hw1-bonus")
    page.evaluate("window.notReloaded = true")

    upload(page, make_handin("browser-correct"))
    page.wait_for_selector("#latest-result .total", timeout=90_000)
    assert page.inner_text("#latest-result .total") == "25/25"
    assert page.evaluate("window.notReloaded") is True  # the score appeared in place
    assert page.inner_text("#history tbody tr:first-child .score") == "25/25"
    shot(page, "student-graded")

    upload(
        page,
        make_handin(
            "browser-broken",
            {
                "optim/adam.py": lambda text: text.replace(
                    'm_hat = state["m_t"] / (1 - b1**self.t)', 'm_hat = state["m_t"]'
                )
            },
        ),
    )
    page.wait_for_selector("#latest-result tr.fail", timeout=90_000)
    failing = page.inner_text("#latest-result tr.fail >> nth=0")
    assert "the output in train step 2 (recorded as train1.y)" in failing
    assert page.inner_text("#latest-result .total") == "16/25"
    assert page.evaluate("window.notReloaded") is True
    shot(page, "student-failing-test")


def test_rejected_upload_says_why(course, browser, tmp_path):
    page = login(browser, course, "bob")
    page.goto(course.url + "/assignments/hw1-bonus")
    bogus = tmp_path / "handin.tar"
    bogus.write_bytes(b"definitely not a tar archive " * 40)
    upload(page, bogus)
    page.wait_for_selector("#upload-message.error")
    assert "not a tar archive" in page.inner_text("#upload-message")


def test_student_is_refused_the_staff_pages(course, browser):
    page = login(browser, course, "bob")
    for path in (
        "/assignments/hw1-bonus/scoreboard",
        "/assignments/hw1-bonus/settings",
        "/assignments/hw1-bonus/students/alice",
        "/assignments/hw1-bonus/similarity",
    ):
        response = page.goto(course.url + path)
        assert response.status == 403
        assert "course staff only" in page.inner_text("main")
    response = page.goto(course.url + "/api/v1/assignments/hw1-bonus/scoreboard")
    assert response.status == 403


def test_ta_sees_scores_downloads_csv_and_regrades(course, browser, make_handin):
    with course.client() as client:  # bob uploads the stub through the API so the board has two students
        token = run_cli(course.env, "token", "issue", "bob").strip()
        client.headers["Authorization"] = f"Bearer {token}"
        created = client.post(
            "/api/v1/assignments/hw1-bonus/submissions",
            files={"file": ("handin.tar", make_handin("browser-stub", stub=True).read_bytes())},
        )
        course.wait_graded(client, created.json()["id"])

    page = login(browser, course, "ta")
    page.goto(course.url + "/assignments/hw1-bonus/scoreboard")
    rows = {
        row.inner_text().split("\n")[0]: row.inner_text()
        for row in page.query_selector_all("table.scoreboard tbody tr")
    }
    assert "16" in rows["alice"] and rows["bob"].rstrip().endswith("0")
    assert page.query_selector("svg.histogram rect") is not None
    shot(page, "scoreboard")

    with page.expect_download() as download:
        page.click("text=Download grades (CSV)")
    grades = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert {row["username"]: row["total"] for row in grades} == {"alice": "16.0", "bob": "0.0"}

    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#regrade-all")
    page.wait_for_selector("text=All 2 regraded", timeout=120_000)

    page.goto(course.url + "/assignments/hw1-bonus/students/alice")
    page.click("table tbody tr:first-child >> text=files")
    page.click("text=mytorch/optim/adam.py")
    assert "class Adam" in page.inner_text("section.code pre")


def test_pages_fit_a_phone_screen(course, browser):
    page = login(browser, course, "alice", viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(course.url + "/assignments/hw1-bonus")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no sideways scrolling of the page itself (wide tables scroll in their own box)
    shot(page, "student-phone")


def test_public_scoreboard_shows_nicknames_only(course, browser):
    page = login(browser, course, "alice")
    page.goto(course.url + "/assignments/hw1-bonus/public")
    text = page.inner_text("main")
    assert "alice" not in text.lower().replace("your", "") and "Alice" not in text and "bob" not in text
    assert "yours is" in text


def test_ta_finds_a_disguised_copy_and_compares_it_side_by_side(course, browser, make_handin):
    run_cli(course.env, "create-user", "carol", "--name", "Carol Copy", "--password", PASSWORD)
    with course.client(run_cli(course.env, "token", "issue", "carol").strip()) as client:
        created = client.post(
            "/api/v1/assignments/hw1-bonus/submissions",
            files={"file": ("handin.tar", make_handin("browser-copy", edits(DISGUISED)).read_bytes())},
        )
        course.wait_graded(client, created.json()["id"])

    page = login(browser, course, "ta")
    page.goto(course.url + "/assignments/hw1-bonus/scoreboard")
    page.click("text=Similarity")
    for _ in range(60):  # the index is updated by a task right after grading
        if page.query_selector("table.pairs >> text=carol"):
            break
        page.wait_for_timeout(500)
        page.reload()
    first = page.inner_text("table.pairs tbody tr:first-child")
    assert "alice" in first and "carol" in first and int(first.split("%")[0]) >= 80
    shot(page, "similarity")
    page.click("table.pairs tbody tr:first-child >> text=Compare")
    page.wait_for_selector("pre.listing span.hit")
    sides = page.query_selector_all("section.side")
    assert len(sides) == 2 and all("mytorch/optim/adam.py" in side.inner_text() for side in sides)
    assert "self.t += 1" in page.inner_text("section.side >> nth=0")
    shot(page, "similarity-pair")


def test_ta_changes_the_settings_from_the_settings_page(course, browser):
    page = login(browser, course, "ta")
    page.goto(course.url + "/assignments/hw1-bonus/settings")
    page.fill("input[name=max_submissions]", "99")
    page.click("form.settings button[type=submit]")
    page.wait_for_selector("text=Saved.")
    page.goto(course.url + "/assignments/hw1-bonus/settings")
    assert page.input_value("input[name=max_submissions]") == "99"


def test_student_uploads_without_javascript(course, browser, make_handin):
    """The upload form works as a plain HTML form too: it leads to the submission's page."""
    page = login(browser, course, "bob", java_script_enabled=False)
    page.goto(course.url + "/assignments/hw1-bonus")
    page.set_input_files("#handin", str(make_handin("browser-no-js", stub=True)))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url("**/submissions/*")
    assert page.inner_text("h1").startswith("Submission ") and "Bob Builder" in page.inner_text("h1")


def test_ta_uploads_an_archive_of_earlier_handins_from_the_similarity_page(
    course, browser, make_handin, tmp_path
):
    path = tmp_path / "f19.tar"
    path.write_bytes(tar_bytes({"f19/dave_1_handin.tar": make_handin("browser-archive").read_bytes()}))
    page = login(browser, course, "ta")
    page.goto(course.url + "/assignments/hw1-bonus/similarity")
    page.fill("input[name=label]", "fall2019")
    page.set_input_files("input[name=file]", str(path))
    page.click("text=Upload archive")
    page.wait_for_url("**/assignments/hw1-bonus/similarity")
    assert "fall2019" in page.inner_text("main")


def test_the_scoreboard_reads_at_a_glance_and_keeps_the_total_on_a_phone(course, browser):
    page = login(browser, course, "ta")
    page.goto(course.url + "/assignments/hw1-bonus/scoreboard")
    headers = page.inner_text("table.scoreboard thead")
    assert "Q1 Linear XELoss Adam" in headers and "Q3 Linear→Batchnorm→ReLU" in headers
    chart = page.text_content("svg.histogram")
    assert "mean" in chart and "median" in chart
    page.click("table.scoreboard th.total a")
    page.click("table.scoreboard th.total a")  # again: the other way
    assert "order=desc" in page.url and "sort=total" in page.url
    totals = page.locator("table.scoreboard tbody td.total").all_inner_texts()
    scores = [float(text.split()[0]) for text in totals if text.strip() not in ("", "–")]
    assert scores == sorted(scores, reverse=True) and len(scores) >= 2
    page.select_option("select[name=show]", "none")
    page.click("form.filters button[type=submit]")
    assert "No student matches" in page.inner_text("table.scoreboard") or "–" in page.inner_text(
        "table.scoreboard"
    )

    phone = login(browser, course, "ta", viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.goto(course.url + "/assignments/hw1-bonus/scoreboard")
    total = phone.locator("table.scoreboard tbody tr:first-child td.total").bounding_box()
    assert total is not None and total["x"] + total["width"] <= 390  # on screen, without scrolling
    shot(phone, "scoreboard-phone")


def test_a_student_issues_a_token_for_submit_py_on_the_account_page(course, browser):
    page = login(browser, course, "alice")
    page.click("a.who")
    page.wait_for_url("**/account")
    page.fill("form.issue input[name=name]", "laptop")
    page.click("form.issue button[type=submit]")
    token = page.inner_text("pre.token").strip()
    command = page.inner_text("pre.command").strip()
    assert command == f"python3 submit.py handin.tar --server {course.url} --token {token}"
    assert "laptop" in page.inner_text("table.tokens")
    shot(page, "account")


def test_a_ta_adds_a_student_on_the_roster_who_then_logs_in_and_shows_in_the_gradebook(course, browser):
    page = login(browser, course, "ta")
    page.click("nav >> text=Roster")
    page.fill("form.roster-add input[name=username]", "erin")
    page.fill("form.roster-add input[name=name]", "Erin Example")
    page.click("form.roster-add button[type=submit]")
    username, password = page.inner_text("section.issued pre").strip().splitlines()[1].split(",")
    assert username == "erin" and "erin" in page.inner_text("table.roster")
    shot(page, "roster")

    erin = login(browser, course, "erin", password=password)
    assert "HW1 Bonus" in erin.inner_text("main")

    page.click("nav >> text=Gradebook")
    rows = {row.split("\n")[0]: row for row in page.locator("table.gradebook tbody tr").all_inner_texts()}
    assert {"alice", "bob", "erin"} <= set(rows) and rows["erin"].split()[-1] == "0"
    shot(page, "gradebook")
