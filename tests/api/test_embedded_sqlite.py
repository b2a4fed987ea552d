"""The embedded defaults (SQLite and the local Celery transport) grade end to end, as `make run` does."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from service import run_cli, running_service


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
        run_cli(env, "create-user", "alice")
        token = run_cli(env, "token", "issue", "alice").strip()
        with service.client(token) as client:
            response = client.post(
                "/api/v1/assignments/hw1-bonus/submissions",
                files={"file": ("handin.tar", make_handin("sqlite").read_bytes())},
            )
            assert response.status_code == 202
            graded = service.wait_graded(client, response.json()["id"])
    assert graded["status"] == "graded" and graded["total"] == 25
