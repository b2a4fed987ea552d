"""Who may do what: logins, tokens, and the course-staff routes."""

from __future__ import annotations

import pytest
from support.handins import tiny_handin

from core.models import Role
from core.services import submissions


def test_login_sets_session_cookie_and_logout_clears_it(app_client, make_user):
    make_user("alice")
    assert app_client.get("/api/v1/me").status_code == 401
    response = app_client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": "correct horse battery staple"}
    )
    assert response.status_code == 200 and response.json()["username"] == "alice"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert app_client.get("/api/v1/me").json()["username"] == "alice"
    assert app_client.post("/api/v1/auth/logout").status_code == 204
    assert app_client.get("/api/v1/me").status_code == 401


def test_wrong_password_is_refused(app_client, make_user):
    make_user("alice")
    response = app_client.post("/api/v1/auth/login", json={"username": "alice", "password": "nope"})
    assert response.status_code == 401
    assert response.json()["detail"] == "wrong username or password"


def test_bearer_token_authenticates_and_revoked_token_does_not(app_client, make_user, db):
    from core.services import users

    user, token = make_user("alice")
    headers = {"Authorization": f"Bearer {token}"}
    assert app_client.get("/api/v1/me", headers=headers).json()["username"] == "alice"
    assert app_client.get("/api/v1/me", headers={"Authorization": "Bearer hw1_forged"}).status_code == 401
    users.revoke_tokens(db, user)
    db.commit()
    response = app_client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_student_cannot_read_another_students_submission(as_user, assignment, db):
    alice = as_user("alice")
    bob = as_user("bob")
    created = alice.post(
        "/api/v1/assignments/hw1-bonus/submissions", files={"file": ("handin.tar", tiny_handin())}
    )
    assert created.status_code == 202
    submission_id = created.json()["id"]
    assert alice.get(f"/api/v1/submissions/{submission_id}").status_code == 200
    assert bob.get(f"/api/v1/submissions/{submission_id}").status_code == 404
    assert bob.get("/api/v1/assignments/hw1-bonus/submissions").json() == []
    assert submissions.get(db, submission_id).user.username == "alice"


def test_student_is_refused_every_staff_route(as_user, assignment):
    alice = as_user("alice")
    created = alice.post(
        "/api/v1/assignments/hw1-bonus/submissions", files={"file": ("handin.tar", tiny_handin())}
    )
    submission_id = created.json()["id"]
    refused = [
        alice.get("/api/v1/assignments/hw1-bonus/scoreboard"),
        alice.get("/api/v1/assignments/hw1-bonus/all-submissions"),
        alice.get("/api/v1/assignments/hw1-bonus/grades.csv"),
        alice.post(f"/api/v1/submissions/{submission_id}/regrade"),
        alice.post("/api/v1/assignments/hw1-bonus/regrade"),
        alice.patch("/api/v1/assignments/hw1-bonus", json={"max_submissions": 99}),
    ]
    assert [response.status_code for response in refused] == [403] * len(refused)
    assert alice.get("/api/v1/assignments/hw1-bonus").json()["max_submissions"] == 5


def test_anonymous_caller_gets_401_everywhere(app_client, assignment):
    for method, path in [
        ("get", "/api/v1/assignments"),
        ("get", "/api/v1/submissions/1"),
        ("post", "/api/v1/assignments/hw1-bonus/submissions"),
        ("get", "/api/v1/assignments/hw1-bonus/scoreboard"),
    ]:
        assert getattr(app_client, method)(path).status_code == 401, path


def test_ta_sees_scoreboard_and_can_change_settings(as_user, assignment):
    as_user("alice")
    ta = as_user("ta", Role.ta)
    board = ta.get("/api/v1/assignments/hw1-bonus/scoreboard")
    assert board.status_code == 200
    assert [row["username"] for row in board.json()["rows"]] == ["alice"]
    changed = ta.patch("/api/v1/assignments/hw1-bonus", json={"max_submissions": 7, "scoring": "best"})
    assert changed.status_code == 200 and changed.json()["max_submissions"] == 7
    assert changed.json()["scoring"] == "best"


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"due_at": None}, "due_at cannot be empty"),
        ({"title": None, "scoring": None}, "scoring, title cannot be empty"),
        ({"public_scoreboard": None}, "public_scoreboard cannot be empty"),
        ({"due_at": "0001-01-01T00:00:00+01:00"}, "date out of range"),
        ({"late_deadline_at": "2000-01-01T00:00:00Z"}, "the late deadline cannot be before the due date"),
    ],
)
def test_settings_that_cannot_hold_are_refused_and_change_nothing(as_user, assignment, change, reason):
    ta = as_user("ta", Role.ta)
    before = ta.get("/api/v1/assignments/hw1-bonus").json()
    refused = ta.patch("/api/v1/assignments/hw1-bonus", json=change)
    assert refused.status_code == 422 and reason in refused.text
    assert ta.get("/api/v1/assignments/hw1-bonus").json() == before


def test_emptying_the_optional_settings_means_none(as_user, assignment):
    ta = as_user("ta", Role.ta)
    changed = ta.patch(
        "/api/v1/assignments/hw1-bonus", json={"max_submissions": None, "late_penalty_cap": None}
    )
    assert changed.status_code == 200
    assert (changed.json()["max_submissions"], changed.json()["late_penalty_cap"]) == (None, None)


def test_a_username_with_a_nul_byte_is_a_wrong_login_not_a_server_error(app_client, make_user):
    """Found by the schema fuzzer: PostgreSQL text cannot hold NUL, so it must never reach a query."""
    make_user("alice")
    response = app_client.post("/api/v1/auth/login", json={"username": "alice\x00", "password": "x"})
    assert response.status_code == 401
    page = app_client.get("/login")
    token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    form = {"username": "\x00", "password": "x", "csrf_token": token}
    assert app_client.post("/login", data=form).status_code in (400, 401)
