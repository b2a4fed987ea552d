"""Outages at the worst moment: a killed worker, Redis or the database away, the API restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from support.faults import RedisServer
from support.service import PROJECT, free_port, run_cli, running_service

from core.db import session_factory
from core.models import Submission
from core.models import TestScore as ScoreRow  # not a test class

SLEEP_AT_IMPORT = "import time\ntime.sleep({seconds})\n"


@pytest.fixture
def course_env(migrated):
    """A fresh assignment and student for each fault test, in the shared test database."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    slug = f"faults-{time.monotonic_ns()}"
    run_cli(
        env,
        "assignment",
        slug,
        "--title",
        "Faults",
        "--due",
        (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    )
    username = f"f{time.monotonic_ns()}"
    run_cli(env, "create-user", username)
    token = run_cli(env, "token", "issue", username).strip()
    return env, slug, token


def upload(client: httpx.Client, slug: str, handin) -> int:
    response = client.post(
        f"/api/v1/assignments/{slug}/submissions", files={"file": ("handin.tar", handin.read_bytes())}
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


def sweep(env: dict) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from worker.tasks import sweep; sweep()"],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def scores_of(submission_id: int) -> tuple[int, Submission]:
    with session_factory()() as session:
        count = session.scalar(
            select(func.count()).select_from(ScoreRow).where(ScoreRow.submission_id == submission_id)
        )
        return count, session.get(Submission, submission_id)


def wait_status(client: httpx.Client, submission_id: int, status: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while client.get(f"/api/v1/submissions/{submission_id}").json()["status"] != status:
        assert time.monotonic() < deadline, f"never {status}"
        time.sleep(0.2)


def test_a_job_whose_worker_is_killed_is_graded_by_another_within_90_s(course_env, tmp_path, make_handin):
    """Its lease lapses, the sweeper (every 10 s, on its own queue) sends it again, the other worker
    takes it: however long grading may take, not the 10 minutes of a fixed threshold. (A lease of 15 s
    here, half the default, to keep the suite short; bench/rush.py --fault worker-kill runs the default.)"""
    env, slug, token = course_env
    # A correct handin that takes 8 s (it sleeps: no idle stop here) is running when its worker dies.
    env = {**env, "SANDBOX_IDLE_SECONDS": "30", "LEASE_S": "15"}
    slow = make_handin("slow", {"__init__.py": lambda text: SLEEP_AT_IMPORT.format(seconds=8) + text + "\n"})
    with running_service(env, tmp_path / "logs", worker=False) as service, service.client(token) as client:
        service.start_worker("doomed", concurrency=1)
        submission_id = upload(client, slug, slow)
        wait_status(client, submission_id, "running")
        service.start_worker("survivor", concurrency=1)
        service.start_worker("sweeper", sweeper=True)
        killed = time.monotonic()
        service.stop("doomed", signal.SIGKILL)  # the whole worker, mid-job, without a goodbye
        graded = service.wait_graded(client, submission_id, timeout=120)
        recovered = time.monotonic() - killed
        survivor_log = (service.log_dir / "survivor.log").read_text()
    count, row = scores_of(submission_id)
    print(f"graded {recovered:.1f} s after its worker was killed")
    assert graded["total"] == 25 and count == 9 and row.attempts == 2
    assert recovered < 90 and f"grading submission {submission_id}" in survivor_log


def test_uploads_while_redis_is_down_are_kept_and_graded_when_it_returns(course_env, tmp_path, make_handin):
    env, slug, token = course_env
    redis = RedisServer(free_port())
    redis.start()
    env = {**env, "BROKER_URL": redis.url, "UNSENT_AFTER_S": "0"}
    try:
        with running_service(env, tmp_path / "logs") as service, service.client(token) as client:
            redis.stop()
            ids = [upload(client, slug, make_handin(f"outage-{index}")) for index in range(3)]
            assert {client.get(f"/api/v1/submissions/{i}").json()["status"] for i in ids} == {"queued"}
            redis.start()
            time.sleep(2)  # the worker reconnects
            sweep(env)
            totals = [service.wait_graded(client, i, timeout=120)["total"] for i in ids]
        assert totals == [25, 25, 25]
    finally:
        redis.stop()


def test_api_killed_mid_upload_leaves_no_half_written_submission(course_env, tmp_path, make_handin):
    env, slug, token = course_env
    with session_factory()() as session:
        before = session.scalar(select(func.count()).select_from(Submission))
    with running_service(env, tmp_path / "logs", worker=False) as service:
        data = make_handin("cut").read_bytes()

        def slow_body():
            yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="handin.tar"\r\n\r\n'
            for start in range(0, len(data), 4096):
                yield data[start : start + 4096]
                time.sleep(0.05)
            yield b"\r\n--x--\r\n"

        def kill_soon():
            time.sleep(0.3)
            os.killpg(service.processes["api"].pid, signal.SIGKILL)

        threading.Thread(target=kill_soon).start()
        with pytest.raises(httpx.TransportError):
            httpx.post(
                f"{service.url}/api/v1/assignments/{slug}/submissions",
                content=slow_body(),
                timeout=30,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "multipart/form-data; boundary=x",
                },
            )
        service.processes.pop("api").wait()
    with session_factory()() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == before


def test_sleeping_handins_do_not_hold_up_the_others(course_env, tmp_path, make_handin):
    env, slug, token = course_env
    wall = 2.0
    env = {**env, "SANDBOX_WALL_SECONDS": str(wall)}
    sleeper = make_handin(
        "sleeper", {"__init__.py": lambda text: SLEEP_AT_IMPORT.format(seconds=3600) + text}
    )
    with running_service(env, tmp_path / "logs") as service, service.client(token) as client:
        time.sleep(2)  # worker ready
        started = time.monotonic()
        sleepers = [upload(client, slug, sleeper) for _ in range(10)]
        good = [upload(client, slug, make_handin(f"good-{index}")) for index in range(2)]
        for submission_id in good:
            assert service.wait_graded(client, submission_id, timeout=120)["total"] == 25
        elapsed = time.monotonic() - started
        for submission_id in sleepers:
            assert service.wait_graded(client, submission_id, timeout=60)["total"] == 0
    # Two job slots: ten sleepers cost five rounds of one time limit each (plus start-up), not thirty.
    assert elapsed < 5 * (wall + 1.5) + 10, elapsed


def test_a_defect_of_the_grader_ends_the_job_as_an_error_not_a_stuck_submission(
    db, assignment, make_user, monkeypatch
):
    """An exception the grader does not expect is not retried (it would end the same way) and does
    not leave the submission running for the sweeper to send again and again."""
    from support.handins import tiny_handin

    from core.services import submissions
    from worker import tasks

    def broken(archive, config):
        raise RuntimeError("a bug in the grader")

    monkeypatch.setattr(tasks, "grade_handin", broken)
    user, _ = make_user("dora")
    created, _ = submissions.create(db, assignment, user, tiny_handin())
    tasks.grade_submission.apply(args=[created.id])
    db.expire_all()
    stored = db.get(Submission, created.id)
    assert (stored.status, stored.attempts) == ("error", 1)
    assert stored.error == "the grader failed: RuntimeError"


def test_a_report_the_database_refuses_ends_the_job_as_an_error(db, assignment, make_user, monkeypatch):
    """Whatever makes storing a report fail (here a line number past PostgreSQL's integer), the
    submission ends as an error staff can see, never `running` for the sweeper to send forever."""
    from support.handins import tiny_handin

    from core.services import submissions
    from grader.report import Report, TestResult
    from worker import tasks

    def unstorable(archive, config):
        test = TestResult("t", "t", "adam", 0.0, 1.0, False, "x", where={"file": "a.py", "line": 2**40})
        return Report([test], 1.0, {"python": "3", "numpy": "1", "scipy": "1"})

    monkeypatch.setattr(tasks, "grade_handin", unstorable)
    user, _ = make_user("erin")
    created, _ = submissions.create(db, assignment, user, tiny_handin())
    tasks.grade_submission.apply(args=[created.id])
    db.expire_all()
    stored = db.get(Submission, created.id)
    assert stored.status == "error" and stored.error == "the report could not be stored: DataError"


def test_the_sweeper_gives_up_on_a_job_lost_again_and_again_and_the_student_keeps_the_attempt(
    db, assignment, make_user, monkeypatch
):
    from support.handins import tiny_handin

    from core.config import get_settings
    from core.services import submissions
    from worker import tasks

    monkeypatch.setattr(get_settings(), "lease_s", 0)  # every lease has lapsed at once
    assignment.max_submissions = 1
    db.commit()
    user, _ = make_user("fred")
    created, _ = submissions.create(db, assignment, user, tiny_handin())
    for _ in range(get_settings().max_sweeps + 1):  # taken up, then its worker dies, every time
        submissions.claim(db, created.id, get_settings().lease_s)
        tasks.sweep()
        db.expire_all()
    stored = db.get(Submission, created.id)
    assert stored.status == "error" and stored.sweeps == get_settings().max_sweeps
    assert "grading failed on our side" in stored.error
    again, _ = submissions.create(db, assignment, user, tiny_handin())  # the limit of 1 is not used up
    assert again.version == 2
