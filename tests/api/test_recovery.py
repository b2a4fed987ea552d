"""Recovery in seconds: a database outage drops no queued job and gets fast 503s, a retried upload is
stored once, the sweeper leaves alone what waits in the broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import httpx
import pytest
from sqlalchemy import func, select
from support.database import empty_database
from support.faults import RedisServer, TcpProxy
from support.handins import tiny_handin
from support.service import PROJECT, free_port, run_cli, running_service

from core.db import session_factory
from core.models import Submission

SUBMIT = PROJECT / "handout" / "submit.py"


@pytest.fixture
def course(migrated):
    """An assignment and a student of its own, on an emptied database and queue."""
    empty_database()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    run_cli(env, "assignment", "recovery", "--title", "Recovery", "--due", due)
    run_cli(env, "create-user", "rita")
    return env, run_cli(env, "token", "issue", "rita").strip()


@pytest.fixture
def database_proxy():
    proxy = TcpProxy(free_port(), 5432)
    proxy.restore()
    yield proxy
    proxy.restore()
    proxy.cut()


def through(env: dict, proxy: TcpProxy) -> dict:
    return {**env, "DATABASE_URL": env["DATABASE_URL"].replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")}


def upload(client: httpx.Client, key: str | None = None, data: bytes | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(
        "/api/v1/assignments/recovery/submissions",
        files={"file": ("handin.tar", data or tiny_handin())},
        headers=headers,
    )


def statuses() -> dict[str, int]:
    with session_factory()() as session:
        return dict(
            session.execute(select(Submission.status, func.count()).group_by(Submission.status)).all()
        )


def test_a_60_s_database_outage_drops_no_queued_job(course, database_proxy, tmp_path):
    """Each job used to retry three times and be acknowledged away: 35 s of outage emptied the queue.
    Now the jobs being graded wait for the database, the others stay in the broker meanwhile."""
    env, token = course
    with running_service(env, tmp_path / "logs", worker=False) as service, service.client(token) as client:
        ids = [upload(client).json()["id"] for _ in range(100)]
        database_proxy.cut()
        service.env = through(env, database_proxy)  # the worker's database is away...
        service.start_worker()
        time.sleep(60)
        assert statuses() == {"queued": 100}
        database_proxy.restore()  # ...for 60 s
        back = datetime.now(UTC)
        for submission_id in ids:
            service.wait_graded(client, submission_id, timeout=30)
    graded = sorted(graded_times())
    resumed = (graded[0] - back).total_seconds()
    longest_pause = max((later - earlier).total_seconds() for earlier, later in pairwise(graded))
    print(
        f"100 jobs graded {(graded[-1] - back).total_seconds():.1f} s after the database came back: "
        f"the first after {resumed:.1f} s, then at most {longest_pause:.1f} s between two"
    )
    # Grading resumes within seconds and goes on without a pause: no job waits for a retry's backoff
    # or for the sweeper. (The total depends on the host's speed; 13.5 s on a fast one.)
    assert statuses() == {"graded": 100} and resumed < 10 and longest_pause < 10


def graded_times() -> list[datetime]:
    with session_factory()() as session:
        return list(session.scalars(select(Submission.graded_at)))


@pytest.mark.parametrize("outage", ["cut", "pause"])
def test_the_api_answers_503_with_retry_after_within_2_s_while_its_database_is_away(
    course, database_proxy, tmp_path, outage
):
    """cut: connections refused; pause: the database answers nothing (a hung server, a dropped
    network), where requests used to hang for the whole outage."""
    env, token = course
    with running_service(through(env, database_proxy), tmp_path / "logs", worker=False) as service:
        with service.client(token) as client:
            assert client.get("/api/v1/assignments/recovery").status_code == 200  # pooled connections
            getattr(database_proxy, outage)()
            for request in (
                lambda: client.get("/api/v1/assignments/recovery/submissions"),
                lambda: upload(client, key="during-the-outage"),
                lambda: client.get("/api/v1/health"),
            ):
                started = time.monotonic()
                response = request()
                elapsed = time.monotonic() - started
                assert response.status_code == 503 and elapsed < 2.5, (response.request.url, elapsed)
                assert response.headers["content-type"] == "application/json"
                if "health" not in str(response.request.url):
                    assert (
                        response.headers["Retry-After"] == "5" and "temporarily unavailable" in response.text
                    )
            database_proxy.restore()
            assert upload(client, key="after-the-outage").status_code == 202
        lines = (service.log_dir / "api.log").read_text().splitlines()
    assert lines and all(json.loads(line) for line in lines)  # uvicorn's own lines too: JSON, every one


def test_an_upload_retried_with_its_key_is_stored_once_and_uses_one_attempt(course, tmp_path):
    """With the broker down an upload's answer used to wait 6 s on the send; a client that gave up
    and retried stored a second submission, and used up an attempt."""
    env, token = course
    run_cli(env, "assignment", "recovery", "--max-submissions", "2")
    redis = RedisServer(free_port())
    redis.start()
    env = {**env, "BROKER_URL": redis.url, "UNSENT_AFTER_S": "0"}
    try:
        with running_service(env, tmp_path / "logs") as service, service.client(token) as client:
            redis.stop()
            started = time.monotonic()
            first = upload(client, key="upload-1")
            assert first.status_code == 202 and time.monotonic() - started < 1.0  # the send waits for nothing
            again = upload(client, key="upload-1")  # the client never heard the answer
            assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
            assert again.headers["Idempotent-Replayed"] == "true"
            second = upload(client, key="upload-2")
            assert (
                second.status_code == 202 and second.json()["version"] == 2
            )  # the limit of 2 is not used up
            redis.start()
            time.sleep(2)  # the worker reconnects
            subprocess.run(
                [sys.executable, "-c", "from worker.tasks import sweep; sweep()"],
                env=env,
                cwd=PROJECT,
                check=True,
                timeout=60,
            )
            graded = [service.wait_graded(client, response.json()["id"]) for response in (first, second)]
        assert [body["status"] for body in graded] == ["graded", "graded"] and statuses() == {"graded": 2}
    finally:
        redis.stop()


def test_submit_script_waits_out_an_outage_and_says_so(course, database_proxy, tmp_path, make_handin):
    env, token = course
    with running_service(through(env, database_proxy), tmp_path / "logs") as service:
        database_proxy.cut()
        process = subprocess.Popen(
            [sys.executable, str(SUBMIT), str(make_handin("submit-outage")), "--server", service.url]
            + ["--assignment", "recovery"],
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HW1_TOKEN": token},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(8)
        database_proxy.restore()
        output, _ = process.communicate(timeout=180)
    assert process.returncode == 0, output
    assert "the server is temporarily unavailable, retrying" in output and "Total score: 25/25" in output
    assert statuses() == {"graded": 1}  # one upload, however many tries


def test_the_sweeper_leaves_alone_a_job_waiting_in_the_broker_and_resends_one_it_lost(course, monkeypatch):
    """A backlog made the sweeper send again jobs that only waited in the queue (112 in one run)."""
    from core.config import get_settings
    from core.queue import broker_epoch
    from core.services import assignments, submissions, users
    from worker import tasks

    monkeypatch.setattr(get_settings(), "unsent_after_s", 0)
    with session_factory()() as session:
        assignment, rita = assignments.get(session, "recovery"), users.get_by_username(session, "rita")
        waiting, _ = submissions.create(session, assignment, rita, tiny_handin())
        lost, _ = submissions.create(session, assignment, rita, tiny_handin())
        submissions.mark_sent(session, waiting.id, broker_epoch())  # in this life of the broker
        submissions.mark_sent(session, lost.id, "a broker that restarted since (and forgot its queue)")
    assert tasks.sweep() == 1
    with session_factory()() as session:
        assert session.get(Submission, lost.id).sent_epoch == broker_epoch()  # sent again, to this one
