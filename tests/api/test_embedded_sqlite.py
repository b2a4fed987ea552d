"""The embedded defaults (SQLite and the local Celery transport) grade end to end and run the
similarity check, as `make run` does."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from support.service import run_cli, running_service


def test_sqlite_and_local_transport_grade_an_upload(tmp_path, make_handin):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'grader.db'}",
        "BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.db'}",
        "PYTHONUNBUFFERED": "1",
    }
    with running_service(env, tmp_path / "logs") as service:
        due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        run_cli(env, "assignment", "hw1-bonus", "--title", "HW1 Bonus", "--due", due)
        tokens = {}
        for username, role in (("alice", "student"), ("bob", "student"), ("ta", "ta")):
            run_cli(env, "create-user", username, "--role", role)
            tokens[username] = run_cli(env, "token", "issue", username).strip()
        grades = []
        for student in ("alice", "bob"):  # the same handin twice: the similarity task pairs them
            with service.client(tokens[student]) as client:
                response = client.post(
                    "/api/v1/assignments/hw1-bonus/submissions",
                    files={"file": ("handin.tar", make_handin("sqlite").read_bytes())},
                )
                assert response.status_code == 202
                grades.append(service.wait_graded(client, response.json()["id"]))
        with service.client(tokens["ta"]) as ta:
            deadline = time.monotonic() + 60
            while not (pairs := ta.get("/api/v1/assignments/hw1-bonus/similarity").json())["items"]:
                assert time.monotonic() < deadline, pairs
                time.sleep(0.5)
    assert [(g["status"], g["total"]) for g in grades] == [("graded", 25), ("graded", 25)]
    assert pairs["items"][0]["score"] == 1.0 and pairs["documents"]["students"] == 2
