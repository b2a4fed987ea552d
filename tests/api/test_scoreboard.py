"""The staff scoreboard: found, filtered, sorted both ways and paged by the database; the class's count,
mean, median and histogram; the grades export streamed; a regrade's progress counting its own jobs."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from support.handins import tar_bytes
from support.reports import graded, report

from api.web import short_test
from core.models import Role, Submission, User
from core.services import submissions

SLUG = "/api/v1/assignments/hw1-bonus"


@pytest.fixture
def ta(as_user):
    return as_user("ta", Role.ta)


@pytest.fixture
def klass(db, assignment, make_user):
    """Seven students: five graded (one late, one flagged), two without a submission."""
    scores = {"ann": 25, "ben": 15, "cat": 20, "dan": 10, "eve": 20}
    for username in ("ann", "ben", "cat", "dan", "eve", "fay", "gus"):
        student, _ = make_user(username)
        if username in scores:
            at = assignment.due_at + timedelta(hours=5) if username == "dan" else assignment.due_at
            row = graded(db, assignment, student, at, {"Adam step": scores[username] - 15})
            if username == "ben":
                row.flags = "imports torch"
                db.commit()
    return scores


def names(ta, **params) -> list[str]:
    body = ta.get(f"{SLUG}/scoreboard", params=params).json()
    return [row["username"] for row in body["rows"]]


def test_a_page_holds_its_rows_and_the_total_of_all(ta, klass):
    body = ta.get(f"{SLUG}/scoreboard", params={"limit": 3, "offset": 3}).json()
    assert (body["total"], body["offset"], body["limit"]) == (7, 3, 3)
    assert [row["username"] for row in body["rows"]] == ["dan", "eve", "fay"]
    assert body["tests"] == ["Adam step", "Dropout forward", "BatchNorm train"]
    assert ta.get(f"{SLUG}/scoreboard", params={"limit": 1001}).status_code == 422


def test_sorting_runs_either_way_with_no_score_last(ta, klass):
    assert names(ta, sort="total", order="desc") == ["ann", "cat", "eve", "ben", "dan", "fay", "gus"]
    assert names(ta, sort="total", order="asc") == ["dan", "ben", "cat", "eve", "ann", "fay", "gus"]
    assert names(ta, sort="username", order="desc")[:2] == ["gus", "fay"]
    assert names(ta, sort="late", order="desc")[0] == "dan"


def test_filters_find_no_submission_late_flagged_and_by_name(ta, klass):
    assert names(ta, show="none") == ["fay", "gus"]
    assert names(ta, show="late") == ["dan"]
    assert names(ta, show="flagged") == ["ben"]
    assert names(ta, show="graded") == ["ann", "ben", "cat", "dan", "eve"]
    assert names(ta, q="AN") == ["ann", "dan"]


def test_the_class_statistics_count_mean_median_and_histogram(ta, klass):
    stats = ta.get(f"{SLUG}/scoreboard/stats").json()
    assert (stats["graded"], stats["students"]) == (5, 7)
    assert (stats["mean"], stats["median"]) == (17.8, 20.0)  # dan's 10 is 9 after one late day
    assert stats["histogram"][20] == 2 and stats["histogram"][9] == 1 and sum(stats["histogram"]) == 5
    page = ta.get("/assignments/hw1-bonus/scoreboard").text
    assert "mean <strong>17.8</strong>, median <strong>20</strong>" in page


def test_a_page_past_the_last_shows_the_last(ta, klass):
    page = ta.get("/assignments/hw1-bonus/scoreboard", params={"page": 9}).text
    assert "page 1 of 1" in page and "/assignments/hw1-bonus/students/ann" in page


def test_test_columns_are_named_short_enough_to_wrap():
    assert str(short_test("Question 2.1 - Linear->ReLU->Dropout (Forward)")) == (
        "Q2.1 Linear→<wbr>ReLU→<wbr>Dropout (Forward)"
    )
    assert str(short_test("<b>")) == "&lt;b&gt;"


def test_the_grades_export_streams_every_student(db, assignment, ta):
    db.add_all(User(username=f"s{number:04d}", nickname=f"n{number}") for number in range(1, 1201))
    db.commit()
    response = ta.get(f"{SLUG}/grades.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["username"] for row in rows] == [f"s{number:04d}" for number in range(1, 1201)]


def test_regrade_progress_counts_its_own_jobs_only(db, assignment, as_user, make_user, ta, klass):
    started = ta.post(f"{SLUG}/regrade").json()
    assert started["queued"] == 5
    progress = ta.get(started["progress_url"]).json()
    assert (progress["total"], progress["pending"], progress["finished"]) == (5, 5, False)

    alice = as_user("alice")  # an upload during the regrade: not one of its jobs
    upload = alice.post(
        f"{SLUG}/submissions", files={"file": ("handin.tar", tar_bytes({"mytorch/a.py": b"1"}))}
    )
    submissions.store_report(db, upload.json()["id"], report())
    regraded = db.query(Submission.id).filter(Submission.regrade_id == started["regrade_id"]).all()
    for (submission_id,) in regraded[:3]:
        submissions.store_report(db, submission_id, report())
    submissions.mark_error(db, regraded[3][0], "the sandbox failed")
    progress = ta.get(started["progress_url"]).json()
    assert (progress["done"], progress["failed"], progress["pending"], progress["finished"]) == (
        3,
        1,
        1,
        False,
    )
    submissions.store_report(db, regraded[4][0], report())
    assert ta.get(started["progress_url"]).json()["finished"] is True
    assert as_user("bob").get(started["progress_url"]).status_code == 403
