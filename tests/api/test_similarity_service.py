"""The similarity check through the running service (PostgreSQL, Redis, a real worker): pairs appear
after grading, follow a student's new counted submission, include archived handins, and only course
staff see them."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from support.handins import tar_bytes
from support.service import PROJECT, run_cli
from support.similarity_sources import DISGUISED, INDEPENDENT, edits

SLUG = "hw1-bonus"


@pytest.fixture(scope="module")
def course(live_service):
    env = live_service.env
    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    run_cli(env, "assignment", SLUG, "--title", "HW1 Bonus", "--due", due, "--max-submissions", "20")
    tokens = {}
    for username, role in (
        ("alice", "student"),
        ("bob", "student"),
        ("carol", "student"),
        ("dave", "student"),
    ):
        run_cli(env, "create-user", username, "--role", role)
        tokens[username] = run_cli(env, "token", "issue", username).strip()
    run_cli(env, "create-user", "ta", "--role", "ta")
    tokens["ta"] = run_cli(env, "token", "issue", "ta").strip()
    return tokens


def submit(service, token: str, handin) -> dict:
    with service.client(token) as client:
        response = client.post(
            f"/api/v1/assignments/{SLUG}/submissions", files={"file": ("handin.tar", handin.read_bytes())}
        )
        assert response.status_code == 202, response.text
        return service.wait_graded(client, response.json()["id"])


def wait_for(service, token: str, done, timeout: float = 60) -> dict:
    """Polls the pairs until `done(page)` holds (the index is updated by a task after grading)."""
    deadline = time.monotonic() + timeout
    with service.client(token) as client:
        while True:
            page = client.get(f"/api/v1/assignments/{SLUG}/similarity").json()
            if done(page):
                return page
            assert time.monotonic() < deadline, page
            time.sleep(0.5)


def pair_of(page: dict, a: str, b: str) -> dict | None:
    for pair in page["items"]:
        if {pair["a"]["label"], pair["b"]["label"]} == {a, b}:
            return pair
    return None


def test_copies_pair_up_independent_work_does_not_and_pairs_follow_the_counted_submission(
    live_service, course, make_handin
):
    submit(live_service, course["alice"], make_handin("sim-api-reference"))
    submit(live_service, course["bob"], make_handin("sim-api-disguised", edits(DISGUISED)))
    submit(live_service, course["carol"], make_handin("sim-api-independent", edits(INDEPENDENT)))
    stub = submit(live_service, course["dave"], make_handin("sim-api-stub", stub=True))
    assert stub["total"] == 0

    page = wait_for(live_service, course["ta"], lambda p: p["documents"]["students"] == 4)
    top = page["items"][0]
    assert {top["a"]["label"], top["b"]["label"]} == {"alice", "bob"}
    assert top["score"] >= 0.85 and top["a"]["lines"] > 20 and top["b"]["version"] == 1
    assert all(
        pair["score"] < 0.15 for pair in page["items"] if "carol" in (pair["a"]["label"], pair["b"]["label"])
    )
    assert not any(
        "dave" in (pair["a"]["label"], pair["b"]["label"]) for pair in page["items"]
    )  # starter only

    with live_service.client(course["ta"]) as ta:
        detail = ta.get(f"/api/v1/similarity/pairs/{top['id']}").json()
        assert {r["file"] for r in detail["regions_a"]} >= {
            "mytorch/optim/adam.py",
            "mytorch/nn/batchnorm.py",
        }
        rows = list(csv.DictReader(io.StringIO(ta.get(f"/api/v1/assignments/{SLUG}/similarity.csv").text)))
        assert {rows[0]["a"], rows[0]["b"]} == {"alice", "bob"} and float(rows[0]["score"]) >= 0.85

    # Bob's new counted submission replaces his old one in the index: the copy's pair goes away.
    submit(live_service, course["bob"], make_handin("sim-api-bob-own", edits(INDEPENDENT)))
    page = wait_for(
        live_service,
        course["ta"],
        lambda p: (pair := pair_of(p, "alice", "bob")) is None or pair["b"]["version"] == 2,
    )
    pair = pair_of(page, "alice", "bob")
    assert pair is None or pair["score"] < 0.15
    assert page["documents"]["students"] == 4


def test_an_archive_of_earlier_handins_is_compared_against_but_never_scored(
    live_service, course, make_handin
):
    copy = make_handin("sim-archive-copy", edits(DISGUISED)).read_bytes()
    archive = tar_bytes(
        {"f20/eve_1_handin.tar": copy, "f20/frank_2_handin.tar": copy, "f20/junk.tar": b"junk"}
    )
    with live_service.client(course["ta"]) as ta:
        response = ta.post(
            f"/api/v1/assignments/{SLUG}/similarity/archives",
            data={"label": "fall2020"},
            files={"file": ("f20.tar", archive)},
        )
        assert response.status_code == 202, response.text
        deadline = time.monotonic() + 60
        while (listed := ta.get(f"/api/v1/assignments/{SLUG}/similarity/archives").json())[0][
            "status"
        ] != "done":
            assert time.monotonic() < deadline, listed
            time.sleep(0.5)
        assert listed[0]["handins_indexed"] == 2 and "f20/junk" in listed[0]["skipped"]
        refused = ta.post(
            f"/api/v1/assignments/{SLUG}/similarity/archives",
            data={"label": "bad"},
            files={"file": ("x.tar", b"not a tar at all")},
        )
        assert refused.status_code == 400 and "not a tar" in refused.json()["detail"]

        page = ta.get(f"/api/v1/assignments/{SLUG}/similarity").json()
        eve = pair_of(page, "alice", "fall2020/f20/eve_1_handin")
        assert eve is not None and eve["score"] >= 0.85 and eve["b"]["username"] is None
        assert pair_of(page, "fall2020/f20/eve_1_handin", "fall2020/f20/frank_2_handin") is None  # not news
        board = ta.get(f"/api/v1/assignments/{SLUG}/scoreboard").json()
        assert {row["username"] for row in board["rows"]} == {"alice", "bob", "carol", "dave"}  # never scored

        assert ta.delete(f"/api/v1/similarity/archives/{listed[0]['id']}").status_code == 204
        page = ta.get(f"/api/v1/assignments/{SLUG}/similarity").json()
        assert (
            page["documents"]["archived"] == 0 and pair_of(page, "alice", "fall2020/f20/eve_1_handin") is None
        )


def test_students_and_strangers_see_nothing_of_it(live_service, course):
    routes = [
        ("get", f"/api/v1/assignments/{SLUG}/similarity"),
        ("get", f"/api/v1/assignments/{SLUG}/similarity.csv"),
        ("get", f"/api/v1/assignments/{SLUG}/similarity/archives"),
        ("get", "/api/v1/similarity/pairs/1"),
        ("delete", "/api/v1/similarity/archives/1"),
    ]
    for token, expected in ((course["alice"], 403), (None, 401)):
        with live_service.client(token) as client:
            for method, path in routes:
                response = getattr(client, method)(path)
                assert response.status_code == expected, (method, path, response.status_code)
                assert "bob" not in response.text
            response = client.post(
                f"/api/v1/assignments/{SLUG}/similarity/archives",
                data={"label": "x"},
                files={"file": ("a.tar", tar_bytes({"a.tar": b""}))},
            )
            assert response.status_code == expected


def test_admin_cli_indexes_an_archive_and_rebuilds_the_index(live_service, course, make_handin, tmp_path):
    archive = tmp_path / "f19.tar.gz"
    archive.write_bytes(
        tar_bytes({"grace_1_handin.tar": make_handin("sim-cli-copy", edits(DISGUISED)).read_bytes()}, "w:gz")
    )
    out = run_cli(live_service.env, "similarity-archive", SLUG, "fall2019", str(archive))
    assert "fall2019: done, 1 handin(s) indexed" in out
    with live_service.client(course["ta"]) as ta:
        before = ta.get(f"/api/v1/assignments/{SLUG}/similarity?limit=1000").json()
        assert pair_of(before, "alice", "fall2019/grace_1_handin")["score"] >= 0.85

        out = run_cli(live_service.env, "similarity-rebuild", SLUG)
        assert f"indexed 4 student submission(s): {before['total']} similar pair(s)" in out
        after = ta.get(f"/api/v1/assignments/{SLUG}/similarity?limit=1000").json()

    def summary(page: dict) -> list:
        return sorted(
            (*sorted((p["a"]["label"], p["b"]["label"])), round(p["score"], 6)) for p in page["items"]
        )

    assert summary(after) == summary(before) and before["total"] > 0


def test_grading_workers_take_no_similarity_job_and_none_is_sent_twice(live_service, course, make_handin):
    """At a deadline students wait for scores; the similarity list can wait. A grading worker (as
    compose and `make run` start it, on the grading queue) grades two uploads while alice's
    similarity job, queued before them, still waits; the jobs sent after each grading join it, one
    per student: alice's is not sent a second time."""

    def run(code: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", code],
            env=live_service.env,
            cwd=PROJECT,
            check=True,
            timeout=60,
            capture_output=True,
            text=True,
        ).stdout

    live_service.stop("worker")
    try:
        alice = run(
            "from sqlalchemy import select\nfrom core.db import session_factory\n"
            "from core.models import Assignment, User\nfrom core.queue import enqueue_similarity\n"
            "with session_factory()() as db:\n"
            f"    key = (db.scalar(select(Assignment.id).where(Assignment.slug == '{SLUG}')),\n"
            "           db.scalar(select(User.id).where(User.username == 'alice')))\n"
            "assert enqueue_similarity(*key)\nprint(list(key))"
        )
        ids = []
        for username in ("alice", "bob"):
            with live_service.client(course[username]) as client:
                response = client.post(
                    f"/api/v1/assignments/{SLUG}/submissions",
                    files={"file": ("handin.tar", make_handin(f"sim-order-{username}").read_bytes())},
                )
                assert response.status_code == 202, response.text
                ids.append(response.json()["id"])
        live_service.start_worker("grading-only", concurrency=1, queue=live_service.env["GRADING_QUEUE"])
        with live_service.client(course["ta"]) as ta:
            assert [live_service.wait_graded(ta, i)["status"] for i in ids] == ["graded", "graded"]
        waiting = json.loads(
            run(
                "import json\nfrom core.queue import _connection, similarity_queue, waiting_jobs\n"
                "with _connection() as connection:\n"
                "    print(json.dumps(sorted(waiting_jobs(connection, similarity_queue()))))"
            )
        )
        students = [args for task, args in waiting if task.endswith("update_similarity")]
        assert len(students) == 2 and json.loads(alice) in students, waiting
        taken = re.findall(
            r"Task worker\.tasks\.(\w+)\[[^\]]*\] received",
            (live_service.log_dir / "grading-only.log").read_text(),
        )
        assert taken == ["grade_submission", "grade_submission"]
    finally:
        live_service.stop("grading-only")
        live_service.start_worker()
