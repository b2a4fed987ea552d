"""Similarity jobs have a queue of their own, and one that waits there is not sent again: neither by
the grading task after grading, nor by the sweeper (which once sent the same 53 jobs twice in 35 s)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from support.handins import tar_bytes
from support.reports import report

from core.models import Submission, utcnow
from core.queue import ARCHIVE, GRADE, SIMILARITY, _connection, celery, enqueue_similarity, similarity_queue
from core.services import submissions


def waiting_in_similarity_queue() -> int:
    with _connection() as connection:
        return connection.default_channel.queue_declare(similarity_queue(), passive=True).message_count


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

    with _connection() as connection:
        connection.default_channel.queue_purge(similarity_queue())
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
