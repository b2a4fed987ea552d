"""No confinement, no grading: a worker that cannot confine handins takes no job, and says why."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from support.database import empty_database
from support.handins import tiny_handin
from support.service import run_cli, running_service

PASSWORD = "a long test password"


@pytest.fixture
def course(migrated):
    empty_database()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HEARTBEAT_S": "1"}
    slug = f"confined-{time.monotonic_ns()}"
    due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    run_cli(env, "assignment", slug, "--title", "Confined", "--due", due)
    student, ta = f"s{time.monotonic_ns()}", f"ta{time.monotonic_ns()}"
    run_cli(env, "create-user", student)
    run_cli(env, "create-user", ta, "--role", "ta", "--password", PASSWORD)
    return env, slug, run_cli(env, "token", "issue", student).strip(), ta


def health_once(client, has: str) -> dict:
    """The health check's body, once its grading check mentions `has`."""
    deadline = time.monotonic() + 30
    while has not in (body := client.get("/api/v1/health").json())["grading"]:
        assert time.monotonic() < deadline, body
        time.sleep(0.3)
    return body


def test_a_worker_without_bubblewrap_takes_no_job_until_one_that_can_confine_starts(course, tmp_path):
    env, slug, token, ta = course
    with running_service(env, tmp_path / "logs", worker=False) as service, service.client(token) as client:
        service.env = {**env, "PATH": "/nonexistent"}  # no bwrap to be found
        service.start_worker("blind")
        health = health_once(client, "bubblewrap not found")
        assert health["status"] == "degraded" and health["grading"].startswith("error: no worker can grade")
        response = client.post(
            f"/api/v1/assignments/{slug}/submissions", files={"file": ("handin.tar", tiny_handin())}
        )
        submission_id = response.json()["id"]
        time.sleep(5)  # the blind worker would have taken it by now
        assert client.get(f"/api/v1/submissions/{submission_id}").json()["status"] == "queued"
        worker_log = (service.log_dir / "blind.log").read_text()
        assert "this worker takes no grading job: bubblewrap not found" in worker_log

        with service.client() as staff:
            staff.post("/api/v1/auth/login", json={"username": ta, "password": PASSWORD})
            page = staff.get(f"/assignments/{slug}/scoreboard").text
            assert "Grading is stopped" in page and "bubblewrap not found" in page

        service.env = env
        service.start_worker("able")
        graded = service.wait_graded(client, submission_id, timeout=60)
        assert graded["status"] == "graded" and graded["attempts"] == 1
        assert health_once(client, "ok")["status"] == "ok"


def test_a_weak_sandbox_is_refused_unless_allowed_and_then_shown_to_staff(course, tmp_path):
    env, slug, token, ta = course
    weak = {**env, "SANDBOX": "unsafe-process"}
    with running_service(weak, tmp_path / "logs", worker=False) as service, service.client() as staff:
        service.start_worker("unconfined")
        staff.post("/api/v1/auth/login", json={"username": ta, "password": PASSWORD})
        health_once(staff, "runs student code unconfined")
        service.stop("unconfined")
        service.env = {**weak, "ALLOW_WEAK_SANDBOX": "true"}
        service.start_worker("demo")
        assert health_once(staff, "ok, but weak")["status"] == "ok"
        assert "NO isolation" in staff.get("/api/v1/health").json()["grading"]
        assert "Grading runs in a WEAK sandbox" in staff.get(f"/assignments/{slug}/scoreboard").text
