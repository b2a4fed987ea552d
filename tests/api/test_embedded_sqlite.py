"""The embedded defaults (SQLite and the local Celery transport) grade end to end and run the
similarity check, as `make run` does; grading never waits behind similarity jobs there, and Ctrl-C on
`make serve` stops everything at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from support.service import BIN, PROJECT, free_port, migrate, run_cli, running_service


def embedded(tmp_path: Path) -> dict[str, str]:
    """The environment of `make run` with nothing configured: SQLite and the SQLite transport."""
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'grader.db'}",
        "BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.db'}",
        "PYTHONUNBUFFERED": "1",
    }


def python(env: dict[str, str], code: str) -> str:
    """Runs `code` in a Python process with `env`; its last printed line."""
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_sqlite_and_local_transport_grade_an_upload(tmp_path, make_handin):
    env = embedded(tmp_path)
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


def test_grading_never_waits_behind_similarity_jobs_nor_sends_one_that_waits(tmp_path, make_handin):
    """`make run`'s grading worker consumes the grading queue alone: an upload is graded at once
    behind 200 waiting similarity jobs (which drained at 2 a second, and once held an upload 16.7 s),
    and its own similarity job, already waiting, is not sent a second time."""
    env = embedded(tmp_path)
    with running_service(env, tmp_path / "logs", worker=False) as service:
        due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        run_cli(env, "assignment", "hw1-bonus", "--title", "HW1 Bonus", "--due", due)
        run_cli(env, "create-user", "alice")
        token = run_cli(env, "token", "issue", "alice").strip()
        others = "User(username=f'other{n}', nickname=f'other{n}') for n in range(199)"
        python(
            env,
            "from core.db import session_factory\nfrom core.models import User\n"
            f"with session_factory()() as db:\n    db.add_all([{others}])\n    db.commit()\nprint('added')",
        )
        with sqlite3.connect(tmp_path / "grader.db") as database:
            [(assignment,)] = database.execute("SELECT id FROM assignments").fetchall()
            users = database.execute("SELECT id FROM users ORDER BY id").fetchall()
        students = [(assignment, user) for (user,) in users]  # alice, and others to come
        assert (
            python(env, f"from core.queue import enqueue_similarity_jobs as send; print(send({students}))")
            == "200"
        )
        log = (tmp_path / "logs" / "grading.log").open("ab")
        service.processes["grading"] = subprocess.Popen(
            [str(BIN / "celery"), "-A", "worker.celery_app", "worker", "-Q", env["GRADING_QUEUE"]]
            + [
                "--concurrency=1",
                "--loglevel=INFO",
                "-n",
                "grading@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            env=env,
            cwd=PROJECT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with service.client(token) as client:
            response = client.post(
                "/api/v1/assignments/hw1-bonus/submissions",
                files={"file": ("handin.tar", make_handin("before-similarity").read_bytes())},
            )
            graded = service.wait_graded(client, response.json()["id"], timeout=60)
        waiting = (
            "from core.queue import _connection, similarity_queue, waiting_jobs\n"
            "with _connection() as connection:\n"
            "    print(len(waiting_jobs(connection, similarity_queue())),"
            " connection.default_channel._size(similarity_queue()))"
        )
        assert graded["total"] == 25
        assert python(env, waiting) == "200 200"  # none taken by the grader, alice's not sent again


def test_make_run_prints_the_logins_for_its_host_and_port_and_the_token_on_a_line_of_its_own(tmp_path):
    env = embedded(tmp_path)
    migrate(env)
    recipe = subprocess.run(
        ["make", "--dry-run", "--no-print-directory", "seed", "HOST=grader.example.edu", "PORT=8311"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    [seed] = [line for line in recipe.splitlines() if " seed-demo" in line]
    url = seed.split("--url ")[1]
    assert url == "http://grader.example.edu:8311"

    lines = run_cli(env, "seed-demo", "--url", url).splitlines()  # 80 columns: where rich broke the line
    token = lines[lines.index("API token for alice:") + 1]
    assert token.startswith("hw1_") and " " not in token
    assert f"  python handout/submit.py handin.tar --server {url} --token {token}" in lines
    assert any(f"({url})" in line for line in lines) and not any(":8000" in line for line in lines)


def processes_with(marker: str) -> list[int]:
    """The processes whose environment holds `marker`."""
    found = []
    for entry in os.scandir("/proc"):
        try:
            environment = Path(entry.path, "environ").read_bytes() if entry.name.isdigit() else b""
        except OSError:  # gone meanwhile
            continue
        if marker.encode() in environment:
            found.append(int(entry.name))
    return found


def test_ctrl_c_on_make_serve_stops_every_process_within_seconds_and_prints_no_error(tmp_path):
    """Ctrl-C once left beat hung at "beat: Shutting down" for over a minute, and make printed
    "Segmentation fault". Here it reaches make and its shell as the terminal sends it: to their group."""
    env = embedded(tmp_path)
    migrate(env)
    port = free_port()
    with (tmp_path / "stdout").open("wb") as stdout, (tmp_path / "stderr").open("wb") as stderr:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "serve", f"PORT={port}", f"BIN={BIN}"],
            env=env,
            cwd=PROJECT,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 90
            while not ready(tmp_path / "grader.db", port):
                assert make.poll() is None and time.monotonic() < deadline, (tmp_path / "stderr").read_text()
                time.sleep(0.5)
            started = processes_with(str(tmp_path))
            os.killpg(make.pid, signal.SIGINT)
            stopped_at = time.monotonic() + 10
            while (left := processes_with(str(tmp_path))) and time.monotonic() < stopped_at:
                time.sleep(0.2)
            make.wait(timeout=5)
        finally:
            for pid in processes_with(str(tmp_path)):
                os.kill(pid, signal.SIGKILL)
    errors = (tmp_path / "stderr").read_text()
    assert len(started) >= 6 and left == [], (started, left)  # the API, 3 workers, the pool and beat
    assert "Traceback" not in errors and "Segmentation fault" not in errors and "make: ***" not in errors


def ready(database: Path, port: int) -> bool:
    """Whether the API answers and the three workers of `make serve` have registered."""
    try:
        with sqlite3.connect(database) as connection:
            names = {name.split("@")[0] for (name,) in connection.execute("SELECT name FROM workers")}
        httpx.get(f"http://127.0.0.1:{port}/api/v1/health/live", timeout=5).raise_for_status()
    except (sqlite3.Error, httpx.HTTPError):
        return False
    return names >= {"grading", "similarity", "sweeper"}
