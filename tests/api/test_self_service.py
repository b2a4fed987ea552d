"""Students and staff help themselves: API tokens and passwords on the account page, the handout and
writeup on the assignment page, the roster and the gradebook in the UI, error pages that know who is
logged in. Through the JSON API and the pages' own forms."""

from __future__ import annotations

import csv
import io
import tarfile

from fastapi.testclient import TestClient
from support.accounts import PASSWORD
from support.handins import tar_bytes
from support.reports import graded

from core.models import Assignment, Role
from core.services import users


def test_a_student_issues_a_token_uses_it_and_revokes_it(assignment, browser_of):
    page, csrf = browser_of("alice")
    shown = page.post("/account/tokens", data={"name": "laptop", "csrf_token": csrf}).text
    token = shown.split('<pre class="token"')[1].split(">", 1)[1].split("<", 1)[0]
    assert "python3 submit.py handin.tar --server http://testserver --token " + token in shown
    with TestClient(page.app) as cli:
        cli.headers["Authorization"] = f"Bearer {token}"
        assert cli.get("/api/v1/me").json()["username"] == "alice"
        listed = page.get("/api/v1/me/tokens").json()
        laptop = next(row for row in listed if row["name"] == "laptop")
        assert token.startswith(laptop["prefix"]) and "token" not in laptop
        assert token not in page.get("/account").text  # shown once only
        page.post(f"/account/tokens/{laptop['id']}/revoke", data={"csrf_token": csrf})
        assert cli.get("/api/v1/me").status_code == 401


def test_tokens_through_the_api_are_the_callers_own(assignment, as_user, browser_of):
    alice = as_user("alice")
    issued = alice.post("/api/v1/me/tokens", json={"name": "ci"})
    assert issued.status_code == 201 and issued.json()["submit_command"].endswith(issued.json()["token"])
    bob = as_user("bob")
    assert bob.delete(f"/api/v1/me/tokens/{issued.json()['id']}").status_code == 404  # not bob's
    assert alice.delete(f"/api/v1/me/tokens/{issued.json()['id']}").status_code == 204


def test_a_student_changes_their_password(db, assignment, browser_of):
    page, csrf = browser_of("alice")
    form = {
        "current_password": "wrong",
        "new_password": "a new long one",
        "repeat_password": "a new long one",
    }
    refused = page.post("/account/password", data={**form, "csrf_token": csrf})
    assert refused.status_code == 400 and "the current password is wrong" in refused.text
    short = {**form, "current_password": PASSWORD, "new_password": "short", "repeat_password": "short"}
    assert "at least 10 characters" in page.post("/account/password", data={**short, "csrf_token": csrf}).text
    changed = page.post("/account/password", data={**form, "current_password": PASSWORD, "csrf_token": csrf})
    assert "Your password is changed" in changed.text
    db.expire_all()
    assert users.authenticate(db, "alice", "a new long one") is not None
    assert users.authenticate(db, "alice", PASSWORD) is None


def test_the_handout_and_the_writeup_are_served_from_the_assignment(db, assignment, as_user):
    alice, ta = as_user("alice"), as_user("ta", Role.ta)
    default = alice.get("/api/v1/assignments/hw1-bonus/handout.tar")
    assert default.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(default.content)) as archive:
        assert any(name.endswith("submit.py") for name in archive.getnames())
    assert alice.get("/api/v1/assignments/hw1-bonus/writeup").status_code == 404
    assert 'href="/api/v1/assignments/hw1-bonus/handout.tar"' in alice.get("/assignments/hw1-bonus").text

    ours = tar_bytes({"handout/README.md": b"our own handout\n"})
    assert ta.put("/api/v1/assignments/hw1-bonus/handout", files={"file": ("h.tar", ours)}).status_code == 200
    refused = ta.put("/api/v1/assignments/hw1-bonus/handout", files={"file": ("h.tar", b"not a tar")})
    assert refused.status_code == 422
    pdf = b"%PDF-1.4 the writeup"
    ta.put("/api/v1/assignments/hw1-bonus/writeup", files={"file": ("hw1 bonus.pdf", pdf)})
    assert alice.get("/api/v1/assignments/hw1-bonus/handout.tar").content == ours
    writeup = alice.get("/api/v1/assignments/hw1-bonus/writeup")
    assert writeup.content == pdf and writeup.headers["content-type"] == "application/pdf"
    assert writeup.headers["content-disposition"] == 'inline; filename="hw1_bonus.pdf"'
    # A writeup that is a web page would run as a page of this site, with the reader's session: it is
    # downloaded, never shown, and may run no script.
    ta.put("/api/v1/assignments/hw1-bonus/writeup", files={"file": ("w.html", b"<script>steal()</script>")})
    page = alice.get("/api/v1/assignments/hw1-bonus/writeup")
    assert page.headers["content-type"] == "application/octet-stream"
    assert page.headers["content-disposition"].startswith("attachment;")
    assert (
        page.headers["content-security-policy"] == "sandbox"
        and page.headers["x-content-type-options"] == "nosniff"
    )
    ta.put("/api/v1/assignments/hw1-bonus/writeup", files={"file": ("hw1 bonus.pdf", pdf)})
    assert "Read the writeup" in alice.get("/assignments/hw1-bonus").text
    assert (
        alice.put("/api/v1/assignments/hw1-bonus/writeup", files={"file": ("x.pdf", pdf)}).status_code == 403
    )


def test_staff_manage_the_roster_in_the_ui(db, assignment, browser_of):
    page, csrf = browser_of("ta", Role.ta)
    added = page.post(
        "/roster/add", data={"username": "erin", "name": "Erin E", "role": "student", "csrf_token": csrf}
    )
    assert "erin," in added.text and "Passwords, shown this once" in added.text
    bad = page.post("/roster/add", data={"username": "bad name!", "name": "Kept", "csrf_token": csrf})
    assert bad.status_code == 400 and "is not a username" in bad.text and 'value="Kept"' in bad.text
    assert (
        "only an admin"
        in page.post("/roster/add", data={"username": "root", "role": "admin", "csrf_token": csrf}).text
    )

    roster = "username,name,email,role\nfrank,Frank F,f@x.edu,student\ngina,Gina G,,ta\n"
    imported = page.post(
        "/roster/import", data={"csrf_token": csrf}, files={"file": ("r.csv", roster.encode())}
    )
    assert "imported 2 person(s), 2 new" in imported.text
    broken = "username,role\nhank,student\nivy,wizard\n"
    refused = page.post(
        "/roster/import", data={"csrf_token": csrf}, files={"file": ("r.csv", broken.encode())}
    )
    assert refused.status_code == 400 and "line 3" in refused.text
    assert users.get_by_username(db, "hank") is None  # all or nothing

    reset = page.post("/roster/frank", data={"action": "password", "csrf_token": csrf})
    password = reset.text.split("frank,")[1].split("\n")[0]
    page.post("/roster/frank", data={"action": "role", "role": "ta", "csrf_token": csrf})
    page.post("/roster/erin", data={"action": "drop", "csrf_token": csrf})
    refused = page.post("/roster/gina", data={"action": "password", "csrf_token": csrf})
    assert refused.status_code == 400 and "only an admin changes the account of gina (ta)" in refused.text
    db.expire_all()
    assert users.get_by_username(db, "frank").role == Role.ta
    assert users.get_by_username(db, "erin").active is False
    assert users.authenticate(db, "frank", password) is not None
    assert (
        "you cannot change your own role"
        in page.post("/roster/ta", data={"action": "role", "role": "student", "csrf_token": csrf}).text
    )


def test_students_cannot_reach_the_roster_or_the_gradebook(assignment, browser_of):
    page, csrf = browser_of("alice")
    for path in ("/roster", "/gradebook", "/course", "/api/v1/gradebook", "/api/v1/gradebook/canvas.csv"):
        assert page.get(path).status_code == 403, path
    assert page.post("/roster/add", data={"username": "x", "csrf_token": csrf}).status_code == 403


def test_the_gradebook_and_the_canvas_export(db, assignment, make_user, browser_of, as_user):
    second = Assignment(
        slug="hw2",
        title="HW2",
        due_at=assignment.due_at,
        late_deadline_at=assignment.late_deadline_at,
        max_score=10,
    )
    db.add(second)
    db.commit()
    alice, _ = make_user("alice")
    make_user("bob")
    graded(db, assignment, alice, assignment.due_at, {"Adam step": 5})
    ta = as_user("ta", Role.ta)
    book = ta.get("/api/v1/gradebook").json()
    assert [a["slug"] for a in book["assignments"]] == ["hw1-bonus", "hw2"]
    assert {row["username"]: (row["scores"], row["total"]) for row in book["rows"]} == {
        "alice": ({"hw1-bonus": 20.0, "hw2": None}, 20.0),
        "bob": ({"hw1-bonus": None, "hw2": None}, 0.0),
    }
    rows = list(csv.reader(io.StringIO(ta.get("/api/v1/gradebook/canvas.csv").text)))
    assert rows[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "HW1 Bonus (hw1-bonus)",
        "HW2 (hw2)",
    ]
    assert rows[1] == ["Points Possible", "", "", "", "", "25.0", "10.0"]
    assert rows[2][3:] == ["alice", "", "20.0", ""]
    plain = list(csv.DictReader(io.StringIO(ta.get("/api/v1/gradebook.csv").text)))
    assert [(row["username"], row["hw1-bonus"], row["total"]) for row in plain] == [
        ("alice", "20.0", "20.0"),
        ("bob", "", "0.0"),
    ]
    page, _ = browser_of("ta2", Role.ta)
    assert "Download for Canvas" in page.get("/gradebook").text


def test_error_pages_know_who_is_logged_in(assignment, browser_of):
    page, _ = browser_of("alice")
    missing = page.get("/assignments/no-such-thing")
    assert missing.status_code == 404 and "Log out" in missing.text and "Log in</a>" not in missing.text
    forbidden = page.get("/assignments/hw1-bonus/scoreboard")
    assert forbidden.status_code == 403 and "alice" in forbidden.text


def test_a_refused_settings_form_keeps_what_was_typed(assignment, browser_of):
    page, csrf = browser_of("ta", Role.ta)
    typed = {
        "title": "HW1 Bonus (renamed)",
        "due_at": "2030-01-10T10:00",
        "late_deadline_at": "2030-01-01T10:00",  # before the due date: refused
        "max_submissions": "7",
        "csrf_token": csrf,
    }
    refused = page.post("/assignments/hw1-bonus/settings", data=typed)
    assert refused.status_code == 400 and "the late deadline cannot be before the due date" in refused.text
    for value in ("HW1 Bonus (renamed)", "2030-01-10T10:00", "2030-01-01T10:00", 'value="7"'):
        assert value in refused.text
    assert page.get("/api/v1/assignments/hw1-bonus").json()["title"] == "HW1 Bonus"  # nothing saved
