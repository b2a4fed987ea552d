"""An upload is never lost when the broker cannot be reached: it is stored queued and the sweeper sends it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from support.service import PROJECT, run_cli, running_service


def test_upload_during_broker_outage_is_stored_and_graded_after_the_sweep(migrated, tmp_path, make_handin):
    good = {**os.environ, "PYTHONUNBUFFERED": "1", "UNSENT_AFTER_S": "0"}
    broken = {**good, "BROKER_URL": "redis://127.0.0.1:1/0"}  # nothing listens there
    run_cli(
        good,
        "assignment",
        "outage",
        "--title",
        "Outage",
        "--due",
        (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    )
    run_cli(good, "create-user", "dana")
    token = run_cli(good, "token", "issue", "dana").strip()

    with (
        running_service(broken, tmp_path / "api-without-broker", worker=False) as service,
        service.client(token) as client,
    ):
        response = client.post(
            "/api/v1/assignments/outage/submissions",
            files={"file": ("handin.tar", make_handin("outage").read_bytes())},
        )
        assert response.status_code == 202  # accepted although the queue is down
        submission_id = response.json()["id"]
        assert client.get(f"/api/v1/submissions/{submission_id}").json()["status"] == "queued"

    with running_service(good, tmp_path / "service") as service, service.client(token) as client:
        sweep = subprocess.run(
            [sys.executable, "-c", "from worker.tasks import sweep; print(sweep())"],
            env=good,
            cwd=PROJECT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sweep.returncode == 0 and int(sweep.stdout.strip().splitlines()[-1]) >= 1, sweep.stderr
        graded = service.wait_graded(client, submission_id)
    assert graded["total"] == 25
