"""The whole service as processes on PostgreSQL and Redis: upload, queue, worker, sandbox, scores."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.hostile import CARRIED_ANSWERS, carry_published_answers, replaying_stub
from support.service import PROJECT, run_cli
from support.variants import VARIANTS

SUBMIT = PROJECT / "handout" / "submit.py"


@pytest.fixture(scope="module")
def course(live_service):
    """Users, tokens and the assignment, made with the admin CLI as course staff would."""
    env = live_service.env
    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    run_cli(env, "assignment", "hw1-bonus", "--title", "HW1 Bonus", "--due", due, "--max-submissions", "20")
    tokens = {}
    for username, role in (("alice", "student"), ("bob", "student"), ("carol", "student"), ("ta", "ta")):
        run_cli(env, "create-user", username, "--role", role)
        tokens[username] = run_cli(env, "token", "issue", username).strip()
    return tokens


def upload(live_service, token, handin) -> dict:
    with live_service.client(token) as client:
        response = client.post(
            "/api/v1/assignments/hw1-bonus/submissions", files={"file": ("handin.tar", handin.read_bytes())}
        )
        assert response.status_code == 202, response.text
        return live_service.wait_graded(client, response.json()["id"])


def test_correct_handin_scores_25_and_stub_scores_0(live_service, course, make_handin):
    correct = upload(live_service, course["alice"], make_handin("correct"))
    assert correct["status"] == "graded" and correct["total"] == 25
    assert all(test["passed"] for test in correct["scores"]) and len(correct["scores"]) == 9
    assert correct["runtime"]["numpy"] == "1.18.1" and correct["runtime"]["sandbox"] == "bwrap"

    stub = upload(live_service, course["bob"], make_handin("stub", stub=True))
    assert stub["total"] == 0
    assert any("NotImplementedError" in test["message"] for test in stub["scores"])
    assert any(test["where_file"] == "mytorch/optim/adam.py" for test in stub["scores"])

    with live_service.client(course["ta"]) as ta:
        board = ta.get("/api/v1/assignments/hw1-bonus/scoreboard").json()
        totals = {row["username"]: row["total"] for row in board["rows"]}
        assert totals == {"alice": 25, "bob": 0, "carol": None}
        rows = list(csv.DictReader(io.StringIO(ta.get("/api/v1/assignments/hw1-bonus/grades.csv").text)))
        assert {row["username"]: row["total"] for row in rows} == {"alice": "25.0", "bob": "0.0", "carol": ""}


def test_text_postgresql_refuses_is_stored_replaced_and_the_handin_graded(live_service, course, make_handin):
    """A NUL byte in what a handin prints or raises once left its submission running forever."""
    edits = {
        "optim/sgd.py": lambda text: "import sys\nsys.stderr.write('a\\x00b\\n')\n" + text,
        "nn/batchnorm.py": lambda text: text.replace(
            "    def forward(self, x):\n",
            "    def forward(self, x):\n        raise RuntimeError('bad\\x00value \\udc80')\n",
        ),
    }
    graded = upload(live_service, course["bob"], make_handin("nul", edits))
    assert graded["status"] == "graded" and graded["total"] == 15
    assert "a\ufffdb" in graded["log"]
    assert any("RuntimeError: bad\ufffdvalue \ufffd" in test["message"] for test in graded["scores"])


def test_a_stub_replaying_the_published_answers_scores_0_through_the_service(
    live_service, course, make_handin
):
    handin = carry_published_answers(replaying_stub(make_handin, "service-replay", CARRIED_ANSWERS))
    assert upload(live_service, course["carol"], handin)["total"] == 0


def test_grading_yields_the_cpu_to_the_api(live_service):
    """The worker (and the pool and sandboxes it starts) runs at WORKER_NICE 10; as it leads its own
    session here, the session's autogroup is lowered too, or the nice value would not count against
    the API's session."""
    worker, api = live_service.processes["worker"].pid, live_service.processes["api"].pid
    deadline = time.monotonic() + 30
    while os.getpriority(os.PRIO_PROCESS, worker) != 10 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (os.getpriority(os.PRIO_PROCESS, worker), os.getpriority(os.PRIO_PROCESS, api)) == (10, 0)
    if Path("/proc/self/autogroup").exists():
        nice = {pid: Path(f"/proc/{pid}/autogroup").read_text().split()[-1] for pid in (worker, api)}
        assert nice == {worker: "10", api: "0"}


def test_wrong_variant_gets_its_partial_score_through_the_service(live_service, course, make_handin):
    variant = VARIANTS[0]  # Adam without bias correction
    graded = upload(live_service, course["carol"], make_handin(variant.name, variant.edits))
    from grader.rubric import load_rubric

    assert graded["total"] == variant.score(load_rubric())
    failed = [test for test in graded["scores"] if not test["passed"]]
    assert variant.message in failed[0]["message"]


def test_regrade_of_every_counted_submission_keeps_one_score_each(live_service, course, make_handin):
    with live_service.client(course["ta"]) as ta:
        before = ta.get("/api/v1/assignments/hw1-bonus/all-submissions").json()["total"]
        board = ta.get("/api/v1/assignments/hw1-bonus/scoreboard").json()
        ids = [row["submission_id"] for row in board["rows"] if row["submission_id"]]
        queued = ta.post("/api/v1/assignments/hw1-bonus/regrade").json()["queued"]
        assert queued == len(ids) >= 2
        for submission_id in ids:
            graded = live_service.wait_graded(ta, submission_id)
            assert graded["attempts"] >= 2 and len(graded["scores"]) == 9
        assert ta.get("/api/v1/assignments/hw1-bonus/all-submissions").json()["total"] == before


def submit(live_service, *args, env_token=None, timeout=180) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(PROJECT / "var")}
    if env_token:
        env["HW1_TOKEN"] = env_token
    return subprocess.run(
        [sys.executable, str(SUBMIT), *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_submit_script_uploads_waits_and_prints_the_scores(live_service, course, make_handin):
    result = submit(
        live_service, str(make_handin("cli-correct")), "--server", live_service.url, env_token=course["alice"]
    )
    assert result.returncode == 0, result.stderr
    assert "Uploading handin.tar: 100%" in result.stdout
    assert "Total score: 25/25" in result.stdout


def test_submit_script_exits_nonzero_when_tests_fail(live_service, course, make_handin):
    result = submit(
        live_service,
        str(make_handin("cli-stub", stub=True)),
        "--server",
        live_service.url,
        "--token",
        course["bob"],
    )
    assert result.returncode == 1
    assert "Total score: 0/25" in result.stdout and "FAIL" in result.stdout


def test_submit_script_explains_a_wrong_token(live_service, make_handin):
    result = submit(
        live_service, str(make_handin("cli-token")), "--server", live_service.url, "--token", "hw1_bad"
    )
    assert result.returncode == 4
    assert "did not accept your token" in result.stderr


def test_submit_script_explains_an_unreachable_server(make_handin):
    result = submit(None, str(make_handin("cli-down")), "--server", "http://127.0.0.1:9", "--token", "hw1_x")
    assert result.returncode == 5
    assert "cannot reach the grader" in result.stderr


def test_submit_script_explains_a_rejected_file(live_service, course, tmp_path):
    bogus = tmp_path / "handin.tar"
    bogus.write_bytes(b"this is not a tar file at all" * 20)
    result = submit(live_service, str(bogus), "--server", live_service.url, "--token", course["carol"])
    assert result.returncode == 3
    assert "refused your handin" in result.stderr and "not a tar archive" in result.stderr


def test_submit_script_explains_a_missing_file(live_service, course, tmp_path):
    result = submit(live_service, str(tmp_path / "nope.tar"), "--server", live_service.url, "--token", "x")
    assert result.returncode == 2
    assert "create_tarball.sh" in result.stderr


def test_submit_script_times_out_with_a_clear_message(live_service, course, make_handin):
    slow = make_handin(
        "cli-slow",
        {
            "optim/adam.py": lambda text: text.replace(
                "        b1, b2 = self.betas\n",
                "        import time; time.sleep(2)\n        b1, b2 = self.betas\n",
            )
        },
    )
    result = submit(
        live_service, str(slow), "--server", live_service.url, "--token", course["carol"], "--timeout", "1"
    )
    assert result.returncode == 6
    assert "still" in result.stderr and "after 1 s" in result.stderr


def test_streamed_oversize_upload_is_refused_without_being_read(live_service, course):
    """No Content-Length (chunked): the limit is enforced while the body streams in."""
    sent = 0

    def body():
        nonlocal sent
        boundary = b'--x\r\nContent-Disposition: form-data; name="file"; filename="handin.tar"\r\n\r\n'
        yield boundary
        for _ in range(200):  # 200 MB offered
            sent += 1 << 20
            yield bytes(1 << 20)

    with live_service.client(course["alice"]) as client:
        response = client.post(
            "/api/v1/assignments/hw1-bonus/submissions",
            content=body(),
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert sent < 50 << 20  # the server hung up long before the whole body was sent
