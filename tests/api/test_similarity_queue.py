"""Similarity jobs have a queue of their own, and one that waits there is not sent again: neither by
the grading task after grading, nor by the sweeper (which once sent the same 53 jobs twice in 35 s).
After a grading the database says whether a student's update waits; the sweeper reads the queue, and
sends what was lost."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import update
from support.handins import tar_bytes
from support.reports import report
from support.service import PROJECT, free_port

from core.models import SimilarityUpdateWaiting, Submission, utcnow
from core.queue import ARCHIVE, GRADE, SIMILARITY, _connection, celery, enqueue_similarity, similarity_queue
from core.services import submissions
from core.similarity.index import stale_students


def purge_similarity_queue() -> None:
    with _connection() as connection:
        connection.default_channel.queue_purge(similarity_queue())


def waiting_in_similarity_queue() -> int:
    with _connection() as connection:
        return connection.default_channel._size(similarity_queue())  # 0 where a passive declare fails


def test_similarity_jobs_have_a_queue_of_their_own_which_a_worker_without_q_consumes_too():
    app = celery()

    def queue_of(task: str) -> str:
        return app.amqp.router.route({}, task)["queue"].name

    assert queue_of(GRADE) == app.conf.task_default_queue
    assert queue_of(SIMILARITY) == queue_of(ARCHIVE) == similarity_queue() != app.conf.task_default_queue
    assert set(app.amqp.queues) == {app.conf.task_default_queue, similarity_queue()}


def test_a_similarity_job_that_waits_is_sent_neither_by_the_sweeper_nor_after_grading(
    db, assignment, make_user
):
    from worker.tasks import sweep

    purge_similarity_queue()
    students = [make_user(f"s{number}")[0] for number in range(3)]
    for student in students:  # graded ten minutes ago, never indexed: their jobs were lost, say
        row, _ = submissions.create(db, assignment, student, tar_bytes({"mytorch/a.py": b"x = 1\n"}))
        submissions.store_report(db, row.id, report())
    db.execute(update(Submission).values(graded_at=utcnow() - timedelta(minutes=10)))
    db.commit()

    sweep()
    sweep()  # ten seconds later, the jobs still waiting behind others
    assert enqueue_similarity(assignment.id, students[0].id)  # as the grading task does after grading
    assert waiting_in_similarity_queue() == 3


def graded(db, assignment, student, version: int) -> None:
    row, _ = submissions.create(
        db, assignment, student, tar_bytes({"mytorch/a.py": f"x = {version}\n".encode()})
    )
    submissions.store_report(db, row.id, report())


def test_a_grading_sends_no_update_while_one_waits_and_the_sweeper_sends_one_that_was_lost(
    db, assignment, make_user
):
    from worker.tasks import sweep, update_similarity

    purge_similarity_queue()
    student = make_user("s")[0]
    key = (assignment.id, student.id)
    graded(db, assignment, student, 1)
    assert enqueue_similarity(*key) and enqueue_similarity(*key)  # two gradings, one update waiting
    assert waiting_in_similarity_queue() == 1

    purge_similarity_queue()  # a worker takes it up
    assert update_similarity(*key)
    graded(db, assignment, student, 2)
    assert enqueue_similarity(*key)  # so a grading sends a new one
    assert waiting_in_similarity_queue() == 1

    purge_similarity_queue()  # the broker loses it (a restart without persistence, a purge)
    graded(db, assignment, student, 3)
    assert enqueue_similarity(*key) and waiting_in_similarity_queue() == 0  # noted as waiting
    db.execute(update(Submission).values(graded_at=utcnow() - timedelta(minutes=10)))
    db.commit()
    sweep()
    assert waiting_in_similarity_queue() == 1  # the sweeper reads the queue itself

    purge_similarity_queue()  # lost again, while the student hands in one version after another
    db.execute(update(SimilarityUpdateWaiting).values(sent_at=utcnow() - timedelta(minutes=3)))
    db.commit()
    graded(db, assignment, student, 4)
    assert enqueue_similarity(*key) and waiting_in_similarity_queue() == 1  # noted too long ago: lost
    assert update_similarity(*key) and stale_students(db, assignment) == []


def test_an_update_that_could_not_be_sent_is_not_taken_as_waiting(db, assignment, make_user):
    """A grading whose update finds the broker down leaves no note that an update waits: the next
    grading sends it."""
    purge_similarity_queue()
    student = make_user("s")[0]
    graded(db, assignment, student, 1)
    broker_down = {**os.environ, "BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}
    code = (
        f"from core.queue import enqueue_similarity; print(enqueue_similarity({assignment.id}, {student.id}))"
    )
    sent = subprocess.run(
        [sys.executable, "-c", code], env=broker_down, cwd=PROJECT, capture_output=True, text=True, timeout=60
    )
    assert sent.stdout.strip() == "False", sent.stderr
    assert enqueue_similarity(assignment.id, student.id) and waiting_in_similarity_queue() == 1
