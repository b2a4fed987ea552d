"""Cookie sessions need the CSRF token on every change; bearer tokens (the CLI) do not."""

from __future__ import annotations

from support.accounts import PASSWORD
from support.handins import tiny_handin

from api.routes import course_pages, pages, similarity
from core.models import Role


def logged_in(app_client, make_user, username="alice", role=Role.student) -> str:
    make_user(username, role)
    response = app_client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    return response.json()["csrf_token"]


def test_cookie_upload_without_the_csrf_header_is_refused(app_client, make_user, assignment):
    token = logged_in(app_client, make_user)
    files = {"file": ("handin.tar", tiny_handin())}
    refused = app_client.post("/api/v1/assignments/hw1-bonus/submissions", files=files)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    forged = app_client.post(
        "/api/v1/assignments/hw1-bonus/submissions", files=files, headers={"X-CSRF-Token": "guess"}
    )
    assert forged.status_code == 403
    accepted = app_client.post(
        "/api/v1/assignments/hw1-bonus/submissions", files=files, headers={"X-CSRF-Token": token}
    )
    assert accepted.status_code == 202


PAGE_FORMS = {  # every page that takes a POST, with what its form sends (but the token)
    "/login": {"data": {"username": "ta", "password": PASSWORD}},
    "/logout": {},
    "/assignments/{slug}/upload": {"files": {"file": ("handin.tar", tiny_handin())}},
    "/assignments/{slug}/settings": {"data": {"title": "Hijacked"}},
    "/assignments/{slug}/rotate-secret": {},
    "/assignments/{slug}/similarity/archives": {
        "data": {"label": "hijack"},
        "files": {"file": ("a.tar", tiny_handin())},
    },
    "/assignments/{slug}/students/{username}/extension": {"data": {"days": "30"}},
    "/submissions/{submission_id}/override": {"data": {"points": "25", "reason": "hijack"}},
    "/submissions/{submission_id}/comment": {"data": {"comment": "hijack"}},
    "/course": {"data": {"time_zone": "UTC", "grace_days": "99"}},
    "/assignments/{slug}/similarity/given": {"data": {"code": "x = 1"}},
    "/assignments/{slug}/files": {"files": {"handout": ("h.tar", tiny_handin())}},
    "/account/tokens": {"data": {"name": "hijack"}},
    "/account/tokens/{token_id}/revoke": {},
    "/account/password": {
        "data": {"current_password": PASSWORD, "new_password": "hijacked!!", "repeat_password": "hijacked!!"}
    },
    "/roster/add": {"data": {"username": "mallory", "role": "admin"}},
    "/roster/import": {"files": {"file": ("r.csv", b"username,role\nmallory,admin\n")}},
    "/roster/{username}": {"data": {"action": "password"}},
}


def test_every_page_form_without_the_token_is_refused(app_client, make_user, assignment):
    """Pages are posted by plain HTML forms: each checks its hidden csrf_token field itself."""
    posted = {
        route.path
        for router in (pages.router, course_pages.router, similarity.pages)
        for route in router.routes
        if "POST" in route.methods
    }
    assert posted == set(PAGE_FORMS)
    logged_in(app_client, make_user, "ta", Role.ta)
    for path, form in PAGE_FORMS.items():
        url = path.format(slug="hw1-bonus", username="ta", submission_id=1, token_id=1)
        response = app_client.post(url, **form)
        assert response.status_code == 403 and "CSRF" in response.text, path
    assert app_client.get("/api/v1/assignments/hw1-bonus").json()["title"] == "HW1 Bonus"
    assert app_client.get("/api/v1/assignments/hw1-bonus/similarity/archives").json() == []


def test_login_form_needs_the_token_and_never_redirects_off_site(app_client, make_user):
    make_user("alice")
    page = app_client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    assert app_client.post("/login", data={"username": "alice", "password": PASSWORD}).status_code == 403
    response = app_client.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/assignments"


def test_bearer_token_needs_no_csrf_header(as_user, assignment):
    response = as_user("alice").post(
        "/api/v1/assignments/hw1-bonus/submissions", files={"file": ("handin.tar", tiny_handin())}
    )
    assert response.status_code == 202


def test_pages_redirect_anonymous_visitors_to_login(app_client, assignment):
    response = app_client.get("/assignments/hw1-bonus", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/assignments/hw1-bonus"


def test_unknown_page_is_a_404_page(app_client, make_user):
    logged_in(app_client, make_user)
    response = app_client.get("/assignments/nope")
    assert response.status_code == 404 and "Not found" in response.text and "<html" in response.text
