"""Deadlines and grades as a course runs them: lateness worked out from the rules in force (moved due
dates, extensions, grace days), closed uploads, grade release, overrides and comments with their audit,
and downloads. Through the JSON API and the pages, on PostgreSQL."""

from __future__ import annotations

import csv
import io
import tarfile
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select
from support.handins import tar_bytes
from support.reports import graded, report

from core.db import session_factory
from core.models import Assignment, Role, Submission
from core.services import submissions, users
from core.similarity import index as similarity

SLUG = "/api/v1/assignments/hw1-bonus"


@pytest.fixture
def ta(as_user):
    return as_user("ta", Role.ta)


def grades(ta) -> dict[str, dict]:
    return {row["username"]: row for row in csv.DictReader(io.StringIO(ta.get(f"{SLUG}/grades.csv").text))}


def board(ta) -> dict[str, dict]:
    return {row["username"]: row for row in ta.get(f"{SLUG}/scoreboard").json()["rows"]}


def late_by(assignment, days: float):
    return assignment.due_at + timedelta(days=days)


def test_moving_the_due_date_works_lateness_out_again_for_uploads_already_graded(db, assignment, as_user, ta):
    alice = as_user("alice")
    submission = graded(db, assignment, student(db, "alice"), late_by(assignment, 1.5))
    mine = alice.get(f"/api/v1/submissions/{submission.id}").json()
    assert (mine["late_days"], mine["adjusted_total"]) == (2, 20.0)  # 25 less 2 days at 10%

    week_later = (assignment.due_at + timedelta(days=7)).isoformat()
    changed = ta.patch(SLUG, json={"due_at": week_later, "late_deadline_at": week_later})
    assert changed.status_code == 200, changed.text
    mine = alice.get(f"/api/v1/submissions/{submission.id}").json()
    assert (mine["late"], mine["late_days"], mine["adjusted_total"]) == (False, 0, 25.0)
    assert board(ta)["alice"]["adjusted_total"] == 25.0 and grades(ta)["alice"]["total"] == "25.0"

    ta.patch(SLUG, json={"due_at": assignment.due_at.isoformat(), "late_penalty_per_day": 0.5})
    mine = alice.get(f"/api/v1/submissions/{submission.id}").json()
    assert (mine["late_days"], mine["adjusted_total"]) == (2, 0.0)
    events = [(event["what"], event["actor"]) for event in ta.get(f"{SLUG}/audit").json()]
    assert ("due_at", "ta") in events and ("late_penalty_per_day", "ta") in events


def student(db, username):
    return users.get_by_username(db, username)


def test_an_extension_moves_one_students_deadlines_and_is_audited(db, assignment, as_user, ta):
    alice, _bob = as_user("alice"), as_user("bob")
    late_alice = graded(db, assignment, student(db, "alice"), late_by(assignment, 1.5))
    graded(db, assignment, student(db, "bob"), late_by(assignment, 1.5))

    granted = ta.put(f"{SLUG}/extensions/alice", json={"days": 2, "reason": "illness"})
    assert granted.status_code == 200, granted.text
    assert granted.json()["due_at"].startswith((assignment.due_at + timedelta(days=2)).date().isoformat())
    scores = board(ta)
    assert (scores["alice"]["late"], scores["alice"]["adjusted_total"]) == (False, 25.0)
    assert (scores["bob"]["late_days"], scores["bob"]["adjusted_total"]) == (2, 20.0)
    standing = alice.get(f"{SLUG}/standing").json()
    assert standing["extension_days"] == 2 and standing["open"] is True
    assert [row["username"] for row in ta.get(f"{SLUG}/extensions").json()] == ["alice"]

    assert ta.delete(f"{SLUG}/extensions/alice").status_code == 204
    assert alice.get(f"/api/v1/submissions/{late_alice.id}").json()["adjusted_total"] == 20.0
    assert ta.delete(f"{SLUG}/extensions/alice").status_code == 404
    trail = [(e["old"], e["new"], e["actor"]) for e in ta.get(f"{SLUG}/students/alice/audit").json()]
    assert trail == [("2 day(s)", "none", "ta"), ("none", "2 day(s)", "ta")]
    assert ta.put(f"{SLUG}/extensions/alice", json={"days": 0}).status_code == 422
    assert alice.put(f"{SLUG}/extensions/alice", json={"days": 5}).status_code == 403
    assert ta.put(f"{SLUG}/extensions/nobody", json={"days": 1}).status_code == 404


def test_an_extension_reopens_uploads_after_the_late_deadline(db, assignment, as_user, ta):
    alice = as_user("alice")
    assignment.due_at -= timedelta(days=5)
    assignment.late_deadline_at = assignment.due_at + timedelta(days=1)
    db.commit()
    refused = alice.post(
        f"{SLUG}/submissions", files={"file": ("handin.tar", tar_bytes({"mytorch/a.py": b"1"}))}
    )
    assert refused.status_code == 403 and "late deadline" in refused.json()["detail"]
    assert alice.get(f"{SLUG}/standing").json()["open"] is False

    ta.put(f"{SLUG}/extensions/alice", json={"days": 7})
    taken = alice.post(
        f"{SLUG}/submissions", files={"file": ("handin.tar", tar_bytes({"mytorch/a.py": b"1"}))}
    )
    assert taken.status_code == 202, taken.text
    assert alice.get(f"/api/v1/submissions/{taken.json()['id']}").json()["late"] is False


def test_grace_days_cover_late_days_first_then_run_out(db, assignment, as_user, ta):
    alice = as_user("alice")
    second = Assignment(
        slug="hw2",
        title="HW2",
        due_at=assignment.due_at + timedelta(days=10),
        late_deadline_at=assignment.due_at + timedelta(days=14),
        late_penalty_per_day=0.1,
    )
    db.add(second)
    db.commit()
    assert ta.patch("/api/v1/course", json={"grace_days": 3}).json()["grace_days"] == 3
    alice_row = student(db, "alice")
    first = graded(db, assignment, alice_row, late_by(assignment, 1.5))  # 2 late days, both covered
    later = graded(db, second, alice_row, second.due_at + timedelta(days=1.5))  # 2 late days, 1 left to cover

    mine = alice.get(f"/api/v1/submissions/{first.id}").json()
    assert (mine["late_days"], mine["grace_days"], mine["adjusted_total"]) == (2, 2, 25.0)
    mine = alice.get(f"/api/v1/submissions/{later.id}").json()
    assert (mine["late_days"], mine["grace_days"], mine["adjusted_total"]) == (2, 1, 22.5)
    standing = alice.get(f"{SLUG}/standing").json()
    assert (standing["grace_days_used"], standing["grace_days_left"]) == (3, 0)
    row = grades(ta)["alice"]
    assert (row["grace_days_used"], row["grace_days_left"], row["total"]) == ("2", "0", "25.0")
    assert board(ta)["alice"]["grace_days_left"] == 0

    ta.patch("/api/v1/course", json={"grace_days": 1})  # fewer grace days: the first assignment takes them
    assert alice.get(f"/api/v1/submissions/{first.id}").json()["adjusted_total"] == 22.5
    assert alice.get(f"/api/v1/submissions/{later.id}").json()["adjusted_total"] == 20.0
    assert alice.get(f"{SLUG}/standing").json()["grace_days_left"] == 0


def test_the_upload_form_is_closed_with_the_reason_when_no_submission_is_left(db, assignment, as_user):
    alice = as_user("alice")
    assignment.max_submissions = 1
    db.commit()
    page = alice.get("/assignments/hw1-bonus").text
    assert 'id="upload-form"' in page and "0 of 1" in page
    graded(db, assignment, student(db, "alice"), assignment.due_at - timedelta(hours=1))
    page = alice.get("/assignments/hw1-bonus").text
    assert 'id="upload-form"' not in page
    assert "Uploads are closed" in page and "you have used all 1 submissions" in page and "1 of 1" in page
    fragment = alice.get("/assignments/hw1-bonus/standing").text
    assert 'data-open="false"' in fragment and "counts" in fragment


def test_scores_are_hidden_from_students_until_staff_release_them(db, assignment, as_user, ta):
    alice = as_user("alice")
    assert ta.patch(SLUG, json={"scores_released": False}).json()["scores_released"] is False
    submission = graded(db, assignment, student(db, "alice"), assignment.due_at, {"Adam step": 0})
    mine = alice.get(f"/api/v1/submissions/{submission.id}").json()
    assert mine["status"] == "graded" and mine["released"] is False
    assert (mine["total"], mine["adjusted_total"], mine["scores"], mine["log"]) == (None, None, [], "")
    page = alice.get(f"/submissions/{submission.id}").text
    assert "received and graded" in page and "15/25" not in page and "wrong values" not in page
    assert "not released" in alice.get("/assignments/hw1-bonus/public").text
    assert ta.get(f"/api/v1/submissions/{submission.id}").json()["adjusted_total"] == 15.0

    ta.patch(SLUG, json={"scores_released": True})
    mine = alice.get(f"/api/v1/submissions/{submission.id}").json()
    assert mine["released"] is True and mine["adjusted_total"] == 15.0 and mine["scores"]
    assert "15/25" in alice.get(f"/submissions/{submission.id}").text


def test_an_override_counts_everywhere_survives_a_regrade_and_is_audited(db, assignment, as_user, ta):
    alice = as_user("alice")
    submission = graded(db, assignment, student(db, "alice"), assignment.due_at, {"Dropout forward": 0})
    url = f"/api/v1/submissions/{submission.id}"
    assert ta.put(f"{url}/override", json={"points": 24}).status_code == 422  # no reason
    assert ta.put(f"{url}/override", json={"points": 26, "reason": "x"}).status_code == 422  # above 25
    assert ta.put(f"{url}/override", json={"test": "Nope", "points": 1, "reason": "x"}).status_code == 422
    assert alice.put(f"{url}/override", json={"points": 25, "reason": "me"}).status_code == 403

    changed = ta.put(
        f"{url}/override", json={"test": "Dropout forward", "points": 5, "reason": "mask seed bug"}
    )
    assert changed.status_code == 200, changed.text
    dropout = next(test for test in changed.json()["scores"] if test["name"] == "Dropout forward")
    assert (dropout["points"], dropout["graded_points"], dropout["overridden"]) == (5, 0, True)
    assert changed.json()["adjusted_total"] == 25.0 and changed.json()["total"] == 20.0

    ta.put(f"{url}/override", json={"points": 18, "reason": "copied the BatchNorm code"})
    mine = alice.get(url).json()
    assert (mine["adjusted_total"], mine["overridden"], mine["overrides"]) == (18.0, True, [])  # no reasons
    assert (board(ta)["alice"]["adjusted_total"], board(ta)["alice"]["overridden"]) == (18.0, True)
    assert (grades(ta)["alice"]["total"], grades(ta)["alice"]["overridden"]) == ("18.0", "1")
    assert "overridden" in alice.get(f"/submissions/{submission.id}").text

    submissions.store_report(db, submission.id, report())  # a regrade
    assert alice.get(url).json()["adjusted_total"] == 18.0
    assert ta.delete(f"{url}/override").status_code == 200
    assert alice.get(url).json()["adjusted_total"] == 25.0
    assert ta.delete(f"{url}/override").status_code == 404

    trail = [(e["what"], e["old"], e["new"], e["actor"]) for e in ta.get(f"{url}/audit").json()]
    assert trail == [
        ("total", "18", "25", "ta"),
        ("total", "20", "18", "ta"),
        ("Dropout forward", "0", "5", "ta"),
    ]
    assert ta.get(f"{url}/audit").json()[1]["reason"] == "copied the BatchNorm code"


def test_a_comment_reaches_the_student_and_each_change_is_recorded(db, assignment, as_user, ta):
    alice = as_user("alice")
    submission = graded(db, assignment, student(db, "alice"), assignment.due_at)
    url = f"/api/v1/submissions/{submission.id}"
    ta.put(f"{url}/comment", json={"comment": "Nice <b>work</b>"})
    ta.put(f"{url}/comment", json={"comment": "Nice work, see office hours"})
    assert alice.get(url).json()["comment"] == "Nice work, see office hours"
    page = alice.get(f"/submissions/{submission.id}").text
    assert "Nice work, see office hours" in page
    trail = [(e["old"], e["new"]) for e in ta.get(f"{url}/audit").json()]
    assert trail == [("Nice <b>work</b>", "Nice work, see office hours"), ("", "Nice <b>work</b>")]
    assert alice.put(f"{url}/comment", json={"comment": "mine"}).status_code == 403


def test_students_download_their_own_handins_and_staff_every_counted_one(db, assignment, as_user, ta):
    alice, bob = as_user("alice"), as_user("bob")
    first = graded(db, assignment, student(db, "alice"), assignment.due_at, content=b"first = 1\n")
    second = graded(db, assignment, student(db, "alice"), assignment.due_at, content=b"second = 2\n")
    theirs = graded(db, assignment, student(db, "bob"), assignment.due_at, content=b"bob = 3\n")
    own = alice.get(f"/api/v1/submissions/{first.id}/handin.tar")
    assert own.status_code == 200 and own.content == submissions.blob_bytes(db, first)
    assert 'filename="alice_1_handin.tar"' in own.headers["content-disposition"]
    assert alice.get(f"/api/v1/submissions/{theirs.id}/handin.tar").status_code == 404
    assert bob.get(f"{SLUG}/handins.tar").status_code == 403
    assert ta.get(f"/api/v1/submissions/{theirs.id}/handin.tar").content == submissions.blob_bytes(db, theirs)

    everything = ta.get(f"{SLUG}/handins.tar")
    assert everything.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(everything.content)) as archive:
        members = {member.name: archive.extractfile(member).read() for member in archive.getmembers()}
    assert members == {
        "alice_2_handin.tar": submissions.blob_bytes(db, second),
        "bob_1_handin.tar": submissions.blob_bytes(db, theirs),
    }
    imported = similarity.create_archive(db, assignment, "this term", everything.content)
    assert similarity.index_archive(db, imported.id).handins_indexed == 2


def test_the_result_page_refreshes_itself_without_javascript_until_graded(db, assignment, as_user):
    alice = as_user("alice")
    queued, _ = submissions.create(db, assignment, student(db, "alice"), tar_bytes({"mytorch/a.py": b"1"}))
    page = alice.get(f"/submissions/{queued.id}").text
    assert '<noscript><meta http-equiv="refresh"' in page
    submissions.store_report(db, queued.id, report())
    assert "http-equiv" not in alice.get(f"/submissions/{queued.id}").text


def test_deadlines_show_in_the_course_time_zone_and_the_api_keeps_offsets(db, assignment, as_user, ta):
    alice = as_user("alice")
    assert ta.patch("/api/v1/course", json={"time_zone": "Mars/Olympus"}).status_code == 422
    assert ta.patch("/api/v1/course", json={"time_zone": "America/New_York"}).status_code == 200
    page = alice.get("/assignments/hw1-bonus").text
    assert 'data-zone="America/New_York"' in page and ("EST" in page or "EDT" in page)
    assert "due in 23 h" in page or "due in 1 day" in page
    due = alice.get(SLUG).json()["due_at"]
    assert due.endswith(("Z", "+00:00"))
    assert alice.get("/api/v1/course").json() == {"time_zone": "America/New_York", "grace_days": 0}
    assert alice.patch("/api/v1/course", json={"grace_days": 9}).status_code == 403


def test_the_staff_history_marks_the_counted_submission_and_both_scores(db, assignment, as_user, ta):
    as_user("alice")
    alice_row = student(db, "alice")
    graded(db, assignment, alice_row, late_by(assignment, 0.5))
    graded(db, assignment, alice_row, late_by(assignment, 0.5), {"Adam step": 0})
    page = ta.get("/assignments/hw1-bonus/students/alice").text
    counted_row = page[page.index('class="counted"') :]
    assert ">2</a>" in counted_row[:200] and "counts" in counted_row[:400]
    assert "15/25" in page and "13.5" in page  # graded, and after one late day's 10%


def test_gradings_of_one_student_that_end_together_leave_one_counted_submission(db, assignment, make_user):
    alice, _ = make_user("alice")
    ids = [
        submissions.create(db, assignment, alice, tar_bytes({"mytorch/a.py": str(n).encode()}))[0].id
        for n in range(5)
    ]

    def store(submission_id: int) -> None:
        with session_factory()() as session:
            submissions.store_report(session, submission_id, report({"Adam step": submission_id % 3}))

    for _ in range(3):  # each round, the five gradings race again (a regrade of all)
        with ThreadPoolExecutor(5) as pool:
            list(pool.map(store, ids))
        db.expire_all()
        counted = db.scalars(select(Submission.version).where(Submission.counted)).all()
        assert counted == [5]
