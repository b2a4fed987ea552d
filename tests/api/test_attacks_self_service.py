"""Attacks on the self-service and staff features (tokens, passwords, roster, gradebook, scoreboard,
regrades, similarity): each test asserts the SAFE behaviour, so a failing test is an attack that works."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from support.accounts import PASSWORD
from support.reports import graded

from core.models import Regrade, Role
from core.services import users

EVIL_HTML = '<img src=x onerror="alert(1)">'


def fresh(db, username: str):
    db.expire_all()
    return users.get_by_username(db, username)


# --- privilege escalation through the roster --------------------------------------------------------


def test_a_ta_cannot_reset_an_admins_password(db, assignment, browser_of, make_user):
    """A TA who resets the admin's password is shown it once and can log in as the admin."""
    make_user("root", Role.admin)
    page, csrf = browser_of("ta", Role.ta)
    answer = page.post("/roster/root", data={"action": "password", "csrf_token": csrf})
    assert "root," not in answer.text  # the admin's new password is not shown to the TA
    assert users.authenticate(db, "root", PASSWORD) is not None  # and the admin's password is unchanged


def test_a_ta_cannot_drop_or_restore_an_admin(db, assignment, browser_of, make_user):
    make_user("root", Role.admin)
    page, csrf = browser_of("ta", Role.ta)
    page.post("/roster/root", data={"action": "drop", "csrf_token": csrf})
    assert fresh(db, "root").active is True
    # ... nor take back an admin an admin dropped (then reset their password: admin)
    fresh(db, "root").active = False
    db.commit()
    page.post("/roster/root", data={"action": "restore", "csrf_token": csrf})
    assert fresh(db, "root").active is False


def test_a_ta_cannot_grant_or_take_the_admin_role(db, assignment, browser_of, make_user):
    make_user("root", Role.admin)
    make_user("frank")
    page, csrf = browser_of("ta", Role.ta)
    for who, role in (("ta", "admin"), ("frank", "admin"), ("root", "student"), ("root", "ta")):
        answer = page.post(f"/roster/{who}", data={"action": "role", "role": role, "csrf_token": csrf})
        assert answer.status_code == 400, (who, role)
    answer = page.post("/roster/add", data={"username": "root", "role": "ta", "csrf_token": csrf})
    assert answer.status_code == 400 and "only an admin" in answer.text
    assert (fresh(db, "ta").role, fresh(db, "frank").role, fresh(db, "root").role) == (
        Role.ta,
        Role.student,
        Role.admin,
    )


def test_a_roster_import_making_an_admin_changes_nothing(db, assignment, browser_of, make_user):
    page, csrf = browser_of("ta", Role.ta)
    text = "username,name,role\nnewbie,New B,student\nmallory,Mal,admin\n"
    answer = page.post("/roster/import", data={"csrf_token": csrf}, files={"file": ("r.csv", text.encode())})
    assert answer.status_code == 400 and "only an admin" in answer.text
    assert fresh(db, "newbie") is None and fresh(db, "mallory") is None  # all or nothing


def test_nobody_changes_their_own_role_through_add_or_import(db, assignment, browser_of):
    """set_role refuses one's own role ("a course cannot lock its staff out"); add and import must too."""
    page, csrf = browser_of("root", Role.admin)
    page.post("/roster/add", data={"username": "root", "role": "student", "csrf_token": csrf})
    assert fresh(db, "root").role == Role.admin
    text = b"username,role\nroot,ta\n"
    page.post("/roster/import", data={"csrf_token": csrf}, files={"file": ("r.csv", text)})
    assert fresh(db, "root").role == Role.admin


def test_nobody_drops_themselves(db, assignment, browser_of):
    page, csrf = browser_of("root", Role.admin)
    answer = page.post("/roster/root", data={"action": "drop", "csrf_token": csrf})
    assert answer.status_code == 400 and "you cannot drop yourself" in answer.text
    assert fresh(db, "root").active is True


def test_students_cannot_use_the_roster_forms(db, assignment, browser_of, make_user):
    make_user("bob")
    page, csrf = browser_of("alice")
    assert page.post("/roster/bob", data={"action": "password", "csrf_token": csrf}).status_code == 403
    assert (
        page.post("/roster/alice", data={"action": "role", "role": "admin", "csrf_token": csrf}).status_code
        == 403
    )
    imported = page.post(
        "/roster/import",
        data={"csrf_token": csrf},
        files={"file": ("r.csv", b"username,role\nalice,admin\n")},
    )
    assert imported.status_code == 403
    assert fresh(db, "alice").role == Role.student
    assert users.authenticate(db, "bob", PASSWORD) is not None


# --- usernames ----------------------------------------------------------------------------------------


def test_a_username_differing_only_in_case_is_not_a_second_account(db, assignment, browser_of, make_user):
    """'Alice' next to 'alice': two accounts staff cannot tell apart (grades, similarity, impersonation)."""
    make_user("alice")
    page, csrf = browser_of("ta", Role.ta)
    page.post("/roster/add", data={"username": "ALICE", "name": "Alice", "csrf_token": csrf})
    page.post("/roster/import", data={"csrf_token": csrf}, files={"file": ("r.csv", b"username\nbob\nBob\n")})
    db.expire_all()
    names = [user.username.lower() for user in users.students(db)]
    assert len(names) == len(set(names)), names


def test_a_roster_import_with_a_duplicate_username_is_refused(db, assignment, browser_of):
    page, csrf = browser_of("ta", Role.ta)
    text = b"username,name,role\ncarl,Carl One,student\ncarl,Carl Two,ta\n"
    answer = page.post("/roster/import", data={"csrf_token": csrf}, files={"file": ("r.csv", text)})
    assert answer.status_code == 400
    assert fresh(db, "carl") is None


# --- roster input that crashes (500) or half-applies --------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("x" * 201, id="name-longer-than-column"),
        pytest.param("nul\x00name", id="nul-in-name"),
    ],
)
def test_a_bad_name_on_the_add_form_is_a_400_not_a_500(db, assignment, browser_of, name):
    page, csrf = browser_of("ta", Role.ta)
    with TestClient(page.app, raise_server_exceptions=False) as client:
        client.cookies = page.cookies
        answer = client.post("/roster/add", data={"username": "erin", "name": name, "csrf_token": csrf})
    assert fresh(db, "erin") is None
    assert answer.status_code == 400, answer.status_code


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("username,name\nzed,Zed\nyan," + "y" * 201 + "\n", id="name-longer-than-column"),
        pytest.param("username,email\nzed,z@x.edu\nyan," + "e" * 255 + "\n", id="email-longer-than-column"),
        pytest.param("username,name\nzed,Zed\nyan,Y\x00an\n", id="nul-in-a-field"),
        pytest.param("username,name\nzed,Zed\nyan," + "y" * 140_000 + "\n", id="field-over-csv-limit"),
    ],
)
def test_a_bad_roster_file_is_refused_whole_without_a_500(db, assignment, browser_of, text):
    page, csrf = browser_of("ta", Role.ta)
    with TestClient(page.app, raise_server_exceptions=False) as client:
        client.cookies = page.cookies
        answer = client.post(
            "/roster/import", data={"csrf_token": csrf}, files={"file": ("r.csv", text.encode())}
        )
    assert fresh(db, "zed") is None and fresh(db, "yan") is None  # nothing half-applied
    assert answer.status_code == 400, answer.status_code


def test_a_roster_file_in_another_encoding_is_not_a_500(db, assignment, browser_of):
    page, csrf = browser_of("ta", Role.ta)
    latin1 = "username,name\nzoe,Zoé\n".encode("latin-1")
    answer = page.post("/roster/import", data={"csrf_token": csrf}, files={"file": ("r.csv", latin1)})
    assert answer.status_code == 200 and fresh(db, "zoe") is not None
    utf16 = "username,name\nyuri,Yuri\n".encode("utf-16")
    answer = page.post("/roster/import", data={"csrf_token": csrf}, files={"file": ("r.csv", utf16)})
    assert answer.status_code == 400 and fresh(db, "yuri") is None


# --- passwords and tokens ------------------------------------------------------------------------------


def test_the_password_api_needs_the_current_password_and_the_csrf_header(db, assignment, browser_of, as_user):
    thief = as_user("alice")  # e.g. a leaked API token: not enough to take over the account
    body = {"current_password": "a guess", "new_password": "taken over!!"}
    assert thief.put("/api/v1/me/password", json=body).status_code == 403
    assert thief.put("/api/v1/me/password", json={"new_password": "taken over!!"}).status_code == 422
    page, csrf = browser_of("bob")
    body = {"current_password": PASSWORD, "new_password": "taken over!!"}
    assert page.put("/api/v1/me/password", json=body).status_code == 403  # cookie, no CSRF header
    form = {"current_password": "", "new_password": "taken over!!", "repeat_password": "taken over!!"}
    assert page.post("/account/password", data={**form, "csrf_token": csrf}).status_code == 400
    assert users.authenticate(db, "alice", PASSWORD) and users.authenticate(db, "bob", PASSWORD)


def test_tokens_are_listed_and_revoked_by_their_owner_only(db, assignment, browser_of, as_user):
    alice = as_user("alice")
    issued = alice.post("/api/v1/me/tokens", json={"name": "ci"}).json()
    bob_page, bob_csrf = browser_of("bob")
    assert issued["id"] not in [row["id"] for row in bob_page.get("/api/v1/me/tokens").json()]
    assert issued["prefix"] not in bob_page.get("/account").text
    revoked = bob_page.post(f"/account/tokens/{issued['id']}/revoke", data={"csrf_token": bob_csrf})
    assert revoked.status_code == 404
    assert (
        bob_page.delete(f"/api/v1/me/tokens/{issued['id']}", headers={"X-CSRF-Token": bob_csrf}).status_code
        == 404
    )
    ta = as_user("ta", Role.ta)  # staff neither
    assert ta.delete(f"/api/v1/me/tokens/{issued['id']}").status_code == 404
    with TestClient(alice.app) as own:
        own.headers["Authorization"] = f"Bearer {issued['token']}"
        assert own.get("/api/v1/me").json()["username"] == "alice"


def test_token_apis_over_a_cookie_need_the_csrf_header(db, assignment, browser_of):
    page, csrf = browser_of("alice")
    assert page.post("/api/v1/me/tokens", json={"name": "x"}).status_code == 403
    own = page.post("/api/v1/me/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf}).json()
    assert page.delete(f"/api/v1/me/tokens/{own['id']}").status_code == 403
    assert own["id"] in [row["id"] for row in page.get("/api/v1/me/tokens").json()]


def test_a_nul_in_a_token_name_on_the_account_form_is_not_a_500(db, assignment, browser_of):
    page, csrf = browser_of("alice")
    with TestClient(page.app, raise_server_exceptions=False) as client:
        client.cookies = page.cookies
        answer = client.post("/account/tokens", data={"name": "lap\x00top", "csrf_token": csrf})
    assert answer.status_code < 500, answer.status_code


def test_a_staff_password_reset_ends_the_persons_sessions_and_tokens(db, assignment, browser_of, as_user):
    """The reset is how staff recover a taken-over account: whoever holds the old session cookie or an
    API token must be shut out with it."""
    victim, _ = browser_of("alice")
    token_holder = as_user("alice")  # a second token of alice's
    page, csrf = browser_of("ta", Role.ta)
    page.post("/roster/alice", data={"action": "password", "csrf_token": csrf})
    assert victim.get("/api/v1/me").status_code == 401
    assert token_holder.get("/api/v1/me").status_code == 401


# --- exports: spreadsheet formulas --------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+2", "-1+2", "@SUM(A1)", "\t=1+1", "\r=1+1"]


def test_gradebook_exports_never_start_a_cell_with_a_formula(db, assignment, make_user, as_user):
    for number, evil in enumerate(FORMULAS):
        user, _ = make_user(f"s{number}")
        user.display_name, user.email = evil, evil
    db.commit()
    ta = as_user("ta", Role.ta)
    cells = []
    for path in (
        "/api/v1/gradebook.csv",
        "/api/v1/gradebook/canvas.csv",
        "/api/v1/assignments/hw1-bonus/grades.csv",
    ):
        answer = ta.get(path)
        assert answer.status_code == 200, path
        cells += [cell for row in csv.reader(io.StringIO(answer.text)) for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert sum(cell == "'" + FORMULAS[0] for cell in cells) >= 4  # kept, made text


# --- pages: HTML injection ----------------------------------------------------------------------------


def test_names_are_escaped_on_the_staff_pages(db, assignment, make_user, browser_of):
    mallory, _ = make_user("mallory")
    mallory.display_name = mallory.email = EVIL_HTML
    db.commit()
    graded(db, assignment, mallory, assignment.due_at)
    page, csrf = browser_of("ta", Role.ta)
    for path in (
        "/roster",
        "/gradebook",
        "/assignments/hw1-bonus/scoreboard",
        "/assignments/hw1-bonus/scoreboard/table",
    ):
        text = page.get(path).text
        assert "mallory" in text and EVIL_HTML not in text, path
    student, student_csrf = browser_of("alice")
    shown = student.post("/account/tokens", data={"name": EVIL_HTML, "csrf_token": student_csrf}).text
    assert EVIL_HTML not in shown and EVIL_HTML not in student.get("/account").text
    refused = page.post("/roster/add", data={"username": "bad name!", "name": EVIL_HTML, "csrf_token": csrf})
    assert refused.status_code == 400 and EVIL_HTML not in refused.text


def test_a_query_cannot_break_out_of_the_scoreboard_links(db, assignment, browser_of):
    page, _ = browser_of("ta", Role.ta)
    for number in range(60):  # more than a page (without passwords: hashing 60 takes 16 s)
        users.upsert_user(db, f"s{number:02d}")
    db.commit()
    text = page.get("/assignments/hw1-bonus/scoreboard", params={"q": 's"><script>x()</script>'}).text
    assert "<script>x()" not in text
    text = page.get("/assignments/hw1-bonus/scoreboard", params={"q": "s"}).text
    assert 'href="?q=s&amp;show=all&amp;sort=username&amp;order=asc&page=2"' in text


# --- scoreboard parameters ----------------------------------------------------------------------------

BAD_PARAMS = [
    {"offset": "-1"},
    {"offset": str(2**31)},
    {"offset": "1e3"},
    {"offset": "abc"},
    {"limit": "0"},
    {"limit": "-5"},
    {"limit": "1001"},
    {"limit": "99999999999999999999999"},
    {"sort": "username; DROP TABLE users"},
    {"sort": "password_hash"},
    {"show": "everything"},
    {"order": "desc nulls first"},
    {"q": "x" * 101},
]
GOOD_PARAMS = [
    {"q": "' OR 1=1 --"},
    {"q": "%"},
    {"q": "\\"},
    {"q": "a\\"},
    {"q": "é\u200b"},
    {"offset": str(2**31 - 1), "limit": "1000", "sort": "submissions", "order": "desc"},
    *(
        {"sort": sort, "show": show, "order": "desc"}
        for sort in ("total", "late", "submissions")
        for show in ("none", "graded", "late", "flagged")
    ),
]


def test_scoreboard_parameters_are_refused_or_harmless(db, assignment, make_user, as_user, browser_of):
    alice, _ = make_user("alice")
    graded(db, assignment, alice, assignment.due_at)
    make_user("bob")
    ta = as_user("ta", Role.ta)
    page, _ = browser_of("ta2", Role.ta)
    with TestClient(ta.app, raise_server_exceptions=False) as api:
        api.headers.update(ta.headers)
        with TestClient(page.app, raise_server_exceptions=False) as pages:
            pages.cookies = page.cookies
            for params in BAD_PARAMS:
                answer = api.get("/api/v1/assignments/hw1-bonus/scoreboard", params=params)
                assert answer.status_code == 422, (params, answer.status_code)
                if params.keys() <= {"offset", "limit"}:
                    continue  # the page takes `page`, tried below
                answer = pages.get("/assignments/hw1-bonus/scoreboard", params=params)
                assert 400 <= answer.status_code < 500, (params, answer.status_code)
            for bad_page in ("0", "-1", "abc", "1e3", str(10**6 + 1), "9" * 30):
                answer = pages.get("/assignments/hw1-bonus/scoreboard", params={"page": bad_page})
                assert 400 <= answer.status_code < 500, (bad_page, answer.status_code)
            for params in GOOD_PARAMS:
                answer = api.get("/api/v1/assignments/hw1-bonus/scoreboard", params=params)
                assert answer.status_code == 200, (params, answer.status_code)
                if params.get("q") == "' OR 1=1 --":
                    assert answer.json()["total"] == 0
                page_params = {k: v for k, v in params.items() if k not in ("offset", "limit")}
                assert pages.get("/assignments/hw1-bonus/scoreboard", params=page_params).status_code == 200
            for huge in ("1000000", "999999"):
                assert (
                    pages.get("/assignments/hw1-bonus/scoreboard", params={"page": huge}).status_code == 200
                )


# --- students reach no staff data ---------------------------------------------------------------------


def test_a_student_reaches_no_staff_data(db, assignment, make_user, as_user, browser_of):
    bob, _ = make_user("bob")
    bob.display_name = "Bob Secretname"
    db.commit()
    graded(db, assignment, bob, assignment.due_at)
    row = Regrade(submissions=1, by="ta", assignment_id=assignment.id)
    db.add(row)
    db.commit()
    regrade_id = row.id
    assert as_user("ta", Role.ta).get(f"/api/v1/regrades/{regrade_id}").status_code == 200
    alice = as_user("alice")
    for path in (
        f"/api/v1/regrades/{regrade_id}",
        "/api/v1/gradebook",
        "/api/v1/gradebook.csv",
        "/api/v1/gradebook/canvas.csv",
        "/api/v1/assignments/hw1-bonus/grades.csv",
        "/api/v1/assignments/hw1-bonus/scoreboard",
        "/api/v1/assignments/hw1-bonus/scoreboard/stats",
        "/api/v1/assignments/hw1-bonus/similarity/clusters",
        "/api/v1/assignments/hw1-bonus/similarity/given",
    ):
        answer = alice.get(path)
        assert answer.status_code == 403 and "Secretname" not in answer.text, path
    page, csrf = browser_of("carol")
    for path in (
        "/roster",
        "/gradebook",
        "/assignments/hw1-bonus/scoreboard",
        "/assignments/hw1-bonus/similarity",
    ):
        answer = page.get(path)
        assert answer.status_code == 403 and "Secretname" not in answer.text, path
    for path in ("/assignments/hw1-bonus", "/assignments/hw1-bonus/standing", "/account"):
        answer = page.get(path)
        assert answer.status_code == 200 and "Secretname" not in answer.text and "bob" not in answer.text, (
            path
        )
    pdf = b"%PDF-1.4 fake"
    assert (
        alice.put("/api/v1/assignments/hw1-bonus/writeup", files={"file": ("w.pdf", pdf)}).status_code == 403
    )
    assert (
        alice.put("/api/v1/assignments/hw1-bonus/handout", files={"file": ("h.tar", pdf)}).status_code == 403
    )
    assert (
        alice.post(
            "/api/v1/assignments/hw1-bonus/similarity/given", data={"code": "x = 1\n" * 20}
        ).status_code
        == 403
    )


def test_similarity_given_with_a_nul_is_not_a_500(db, assignment, as_user):
    ta = as_user("ta", Role.ta)
    code = "def f(a, b):\n    return a + b * 2 - a // b\n" * 5
    with TestClient(ta.app, raise_server_exceptions=False) as api:
        api.headers.update(ta.headers)
        answer = api.post(
            "/api/v1/assignments/hw1-bonus/similarity/given",
            data={"label": "lec\x00ture", "code": code + "\x00"},
        )
    assert answer.status_code < 500, answer.status_code


# --- writeup download ---------------------------------------------------------------------------------


def test_a_writeup_name_cannot_inject_a_header_or_run_as_a_page(db, assignment, as_user):
    ta, alice = as_user("ta", Role.ta), as_user("alice")
    evil = 'x";\r\nSet-Cookie: a=b; x=".pdf'
    ta.put("/api/v1/assignments/hw1-bonus/writeup", files={"file": (evil, b"%PDF-1.4 x")})
    answer = alice.get("/api/v1/assignments/hw1-bonus/writeup")
    assert "set-cookie" not in answer.headers
    assert answer.headers["content-disposition"].count('"') == 2
    for name in ("w.svg", "w.xhtml", "w.htm", "w.js"):
        ta.put("/api/v1/assignments/hw1-bonus/writeup", files={"file": (name, b"<svg onload=alert(1)>")})
        answer = alice.get("/api/v1/assignments/hw1-bonus/writeup")
        assert answer.headers["content-type"] == "application/octet-stream", name
        assert answer.headers["content-disposition"].startswith("attachment;"), name
