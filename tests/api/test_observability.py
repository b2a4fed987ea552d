"""What operators watch: /metrics, the health check, and logs that follow a submission."""

from __future__ import annotations

import json

from support.handins import tiny_handin

from core.models import Role


def metrics(text: str) -> dict[str, float]:
    """Prometheus text format -> {'name{labels}': value}."""
    samples = (line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {name: float(value) for name, value in samples}


def test_metrics_are_served_to_a_staff_token_only(as_user, assignment, app_client):
    assert app_client.get("/metrics").status_code == 401
    assert as_user("alice").get("/metrics").status_code == 403
    response = as_user("scraper", Role.ta).get("/metrics")
    assert response.status_code == 200 and "hw1_queue_depth" in response.text


def test_metrics_count_uploads_rejections_and_queue(as_user, assignment):
    alice, scraper = as_user("alice"), as_user("scraper", Role.ta)
    rejected = 'hw1_uploads_rejected_total{reason="not_a_handin"}'
    rejected_before = metrics(scraper.get("/metrics").text).get(rejected, 0.0)
    assert (
        alice.post(
            "/api/v1/assignments/hw1-bonus/submissions", files={"file": ("handin.tar", b"not a tar" * 100)}
        ).status_code
        == 400
    )
    assert (
        alice.post(
            "/api/v1/assignments/hw1-bonus/submissions", files={"file": ("handin.tar", tiny_handin())}
        ).status_code
        == 202
    )
    after = metrics(scraper.get("/metrics").text)
    assert after[rejected] == rejected_before + 1
    assert after['hw1_queue_depth{status="queued"}'] == 1
    assert after['hw1_jobs_total{outcome="graded"}'] == 0
    assert after['hw1_grading_seconds_bucket{le="+Inf"}'] == 0


def test_health_reports_database_broker_and_whether_a_worker_can_grade(app_client, db):
    from core.services import workers

    response = app_client.get("/api/v1/health")
    assert response.status_code == 503 and response.json() == {
        "status": "degraded",
        "database": "ok",
        "broker": "ok",
        "grading": "error: no worker is running: uploads wait in the queue until one starts",
    }
    workers.register(db, "worker@host", 1, True, "bwrap in cgroup v1 (memory, pids, cpuacct)", False, "")
    body = app_client.get("/api/v1/health").json()
    assert body == {"status": "ok", "database": "ok", "broker": "ok", "grading": "ok"}
    assert app_client.get("/api/v1/health/live").json() == {"status": "ok"}


def test_logs_follow_one_submission_from_upload_to_score(live_service, make_handin):
    from support.service import run_cli

    env = live_service.env
    run_cli(env, "assignment", "logs", "--title", "Logs", "--due", "2030-01-01T00:00")
    run_cli(env, "create-user", "logan")
    token = run_cli(env, "token", "issue", "logan").strip()
    with live_service.client(token) as client:
        created = client.post(
            "/api/v1/assignments/logs/submissions",
            files={"file": ("handin.tar", make_handin("logs").read_bytes())},
        ).json()
        live_service.wait_graded(client, created["id"])
    lines = []
    for name in ("api.log", "worker.log"):
        for line in (live_service.log_dir / name).read_text().splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("submission_id") == created["id"]:
                    lines.append(record["message"])
    assert any(message.startswith("stored submission") for message in lines)
    assert any(message.startswith("queued submission") for message in lines)
    assert any(message.startswith("grading submission") for message in lines)
    assert any(message.startswith("graded submission") and "25" in message for message in lines)
