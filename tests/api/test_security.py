"""Every route, tried by the wrong people: nothing leaks, nothing changes, nothing crashes."""

from __future__ import annotations

import os
import re

import pytest
from support.handins import tiny_handin

from core.models import Role
from core.services import submissions

OPEN_ROUTES = {
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/health"),
    ("get", "/api/v1/health/live"),
}
STUDENT_ROUTES = {  # any logged-in student may call these, on their own data only
    ("get", "/api/v1/me"),
    ("get", "/api/v1/assignments"),
    ("get", "/api/v1/assignments/{slug}"),
    ("get", "/api/v1/assignments/{slug}/submissions"),
    ("post", "/api/v1/assignments/{slug}/submissions"),
    ("get", "/api/v1/assignments/{slug}/standing"),
    ("get", "/api/v1/course"),
    ("get", "/api/v1/assignments/{slug}/handout.tar"),
    ("get", "/api/v1/me/tokens"),
    ("post", "/api/v1/me/tokens"),
}
OWN = {  # the caller's own account: bob proving alice's password, or revoking her token, is refused
    ("post", "/api/v1/me/tokens"): {"json": {"name": "laptop"}},
    ("put", "/api/v1/me/password"): {
        "json": {"current_password": "a guess of hers", "new_password": "x" * 12}
    },
}


@pytest.fixture
def world(as_user, assignment, db):
    """Alice has a submission; Bob is another student; the caller tries Alice's things."""
    alice = as_user("alice")
    created = alice.post(
        "/api/v1/assignments/hw1-bonus/submissions", files={"file": ("handin.tar", tiny_handin())}
    )
    bob = as_user("bob")
    return {"alice_submission": created.json()["id"], "bob": bob}


def every_route(app_client):
    for path, methods in app_client.get("/openapi.json").json()["paths"].items():
        for method in methods:
            yield method, path


def fill(path: str, submission_id: int) -> str:
    path = path.replace("{submission_id}", str(submission_id)).replace("{username}", "alice")
    path = path.replace("{slug}", "hw1-bonus")
    return re.sub(r"\{\w+_id\}", "1", path)  # pairs, archives: staff-only, refused before any lookup


def alices_rows(db, assignment) -> list[tuple]:
    db.expire_all()
    rows, _ = submissions.list_all(db, assignment, limit=1000, username="alice")
    return [(row.id, row.status, row.total, row.version, row.attempts) for row in rows]


def test_another_students_token_reaches_nothing_of_alices(world, app_client, db, assignment):
    before = alices_rows(db, assignment)
    bob = world["bob"]
    for method, path in every_route(app_client):
        if (method, path) in OPEN_ROUTES:
            continue
        url = fill(path, world["alice_submission"])
        kwargs = (
            OWN[method, path]
            if (method, path) in OWN
            else {"files": {"file": ("handin.tar", tiny_handin())}}
            if method == "post" and "submissions" in path
            else {"json": {"max_submissions": 1}}
            if method == "patch"
            else {}
        )
        response = getattr(bob, method)(url, **kwargs)
        if (method, path) in STUDENT_ROUTES:
            assert response.status_code < 400, (method, path, response.status_code)
            assert "alice" not in response.text, (method, path)
        else:
            assert response.status_code in (403, 404), (method, path, response.status_code)
    assert alices_rows(db, assignment) == before  # nothing of alice's changed (no regrade, no new version)
    db.refresh(assignment)
    assert assignment.max_submissions == 5  # and the settings were not changed


def test_no_token_gets_401_on_every_closed_route(world, app_client):
    for method, path in every_route(app_client):
        if (method, path) in OPEN_ROUTES:
            continue
        response = getattr(app_client, method)(fill(path, world["alice_submission"]))
        assert response.status_code == 401, (method, path, response.status_code)


def test_upload_file_names_never_reach_the_filesystem(as_user, assignment, db, tmp_path):
    hostile = "../../../../tmp/owned; touch /tmp/pwned #.tar"
    response = as_user("alice").post(
        "/api/v1/assignments/hw1-bonus/submissions", files={"file": (hostile, tiny_handin())}
    )
    assert response.status_code == 202
    assert not os.path.exists("/tmp/owned") and not os.path.exists("/tmp/pwned")
    assert submissions.get(db, response.json()["id"]).size == len(tiny_handin())


def test_fuzzed_requests_never_cause_a_server_error(as_user, assignment, db):
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, settings

    from api.main import create_app

    ta = as_user("ta", Role.ta)
    token = ta.headers["Authorization"]
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
    failures = []

    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy()
        responses = operation.definition.raw.get("responses", {})

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @__import__("hypothesis").given(case=strategy)
        def fuzz(case):
            response = case.call(headers={"Authorization": token})
            documented = str(response.status_code) in responses  # noqa: B023 - used within its loop
            if response.status_code >= 500 and not documented:  # e.g. health's 503: no worker here
                failures.append((case.method, case.formatted_path, response.status_code))

        fuzz()
    assert failures == []


def test_nul_characters_are_refused_at_the_door_not_sent_to_postgresql(as_user, assignment):
    ta = as_user("ta", Role.ta)
    for url in (
        "/api/v1/assignments/hw1-bonus/similarity?q=%00",
        "/api/v1/assignments/hw1-bonus/all-submissions?username=a%00b",
        "/api/v1/assignments/hw1%00bonus",
    ):
        response = ta.get(url)
        assert response.status_code == 400 and "NUL" in response.json()["detail"], url
    assert ta.patch("/api/v1/assignments/hw1-bonus", json={"title": "a\x00b"}).status_code == 422
    assert ta.get("/api/v1/assignments/hw1-bonus/similarity?q=alice").status_code == 200


def test_without_a_secret_key_each_install_makes_its_own(tmp_path, monkeypatch):
    """No built-in key signs the session cookies (one would let anyone forge a TA's session): unset,
    a random key is made on first use, kept for the install's processes, readable by its owner only."""
    import stat

    from core.config import Settings

    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = Settings(_env_file=None, secret_key_file=tmp_path / "one" / "secret_key")
    again = Settings(_env_file=None, secret_key_file=tmp_path / "one" / "secret_key")
    other = Settings(_env_file=None, secret_key_file=tmp_path / "two" / "secret_key")
    assert len(first.secret_key) == 64 and first.secret_key == again.secret_key != other.secret_key
    assert stat.S_IMODE((tmp_path / "one" / "secret_key").stat().st_mode) == 0o600
    assert Settings(_env_file=None, secret_key="set by the operator").secret_key == "set by the operator"


def test_without_a_secret_key_or_a_place_to_keep_one_the_service_says_what_to_set(tmp_path, monkeypatch):
    import pydantic

    from core.config import Settings

    monkeypatch.delenv("SECRET_KEY", raising=False)
    (tmp_path / "var").write_text("a file where the folder should be")
    with pytest.raises(pydantic.ValidationError, match="set SECRET_KEY: it is unset and"):
        Settings(_env_file=None, secret_key_file=tmp_path / "var" / "secret_key")
