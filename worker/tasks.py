"""Celery tasks: grade one submission, sweep lost jobs, keep the similarity index current."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from api.config import get_settings
from api.crud import similarity, submissions
from api.db import session_factory
from api.models import Assignment, SimilarityArchive, Status, utcnow
from grader.config import GraderConfig
from grader.errors import InfrastructureError
from grader.grade import grade_handin
from grader.sandbox import Limits
from worker.celery_app import app
from worker.queue import enqueue, enqueue_archive, enqueue_similarity

log = logging.getLogger(__name__)


def grader_config(assignment: Assignment) -> GraderConfig:
    settings = get_settings()
    limits = replace(
        Limits(),
        wall_seconds=settings.sandbox_wall_seconds,
        cpu_seconds=settings.sandbox_cpu_seconds,
        memory_bytes=settings.sandbox_memory_bytes,
        processes=settings.sandbox_processes,
    )
    options = {"image": settings.docker_image} if settings.sandbox == "docker" else {}
    return GraderConfig(
        sandbox=settings.sandbox,
        runtime=assignment.runtime,
        runtimes_dir=settings.runtimes_dir,
        limits=limits,
        idle_seconds=settings.sandbox_idle_seconds,
        sandbox_options=options,
        secret=bytes.fromhex(assignment.grading_secret),
        weak=settings.allow_weak_sandbox,
    )


@app.task(
    bind=True,
    autoretry_for=(InfrastructureError, OperationalError),  # infrastructure, not the student's code
    retry_backoff=5,
    retry_backoff_max=120,
    max_retries=get_settings().grading_retries,
)
def grade_submission(self, submission_id: int) -> None:
    """Grades one submission and stores the report in one transaction. Safe to run twice."""
    session_maker = session_factory()
    with session_maker() as session:
        submission = submissions.mark_running(session, submission_id)
        if submission is None:
            log.info(
                "submission %s already graded or gone: nothing to do",
                submission_id,
                extra={"submission_id": submission_id},
            )
            return
        data = submissions.blob_bytes(session, submission)
        config = grader_config(submission.assignment)
    log.info(
        "grading submission %s (attempt %s)",
        submission_id,
        self.request.retries + 1,
        extra={"submission_id": submission_id},
    )
    try:
        with tempfile.TemporaryDirectory(prefix="job-") as scratch:
            archive = Path(scratch) / "handin.tar"
            archive.write_bytes(data)
            report = grade_handin(archive, config)
    except InfrastructureError as error:
        if self.request.retries >= self.max_retries:
            with session_maker() as session:
                submissions.mark_error(session, submission_id, f"the grader could not run: {error}")
            log.error(
                "submission %s: grader error, giving up: %s",
                submission_id,
                error,
                extra={"submission_id": submission_id},
            )
            return
        raise
    except Exception as error:  # a defect of the grader: running it again would end the same way
        with session_maker() as session:
            submissions.mark_error(session, submission_id, f"the grader failed: {type(error).__name__}")
        log.exception(
            "submission %s: the grader failed", submission_id, extra={"submission_id": submission_id}
        )
        return
    try:
        with session_maker() as session:
            assignment_id, user_id = submissions.store_report(session, submission_id, report.to_dict())
    except OperationalError:
        raise  # the database is away: the job is tried again
    except SQLAlchemyError as error:  # the report itself: never leave the submission running
        with session_maker() as session:
            submissions.mark_error(
                session, submission_id, f"the report could not be stored: {type(error).__name__}"
            )
        log.exception(
            "submission %s: the report could not be stored",
            submission_id,
            extra={"submission_id": submission_id},
        )
        return
    log.info(
        "graded submission %s: %s/%s",
        submission_id,
        report.total,
        report.max,
        extra={"submission_id": submission_id},
    )
    enqueue_similarity(assignment_id, user_id)


@app.task
def sweep() -> int:
    """Sends again the jobs a broker outage or a dead worker left behind; returns how many."""
    settings = get_settings()
    now = utcnow()
    with session_factory()() as session:
        ids = submissions.due_for_requeue(
            session,
            now - timedelta(seconds=settings.requeue_after_s),
            now - timedelta(seconds=settings.stuck_after_s),
        )
        given_up = []
        for submission_id in ids:
            submission = session.get(submissions.Submission, submission_id)
            lost = submission.status == Status.running  # taken up, then its worker went away
            if lost and submission.sweeps >= settings.max_sweeps:
                submissions.give_up(session, submission)
                given_up.append(submission_id)
            else:
                submissions.requeue(session, submission, sweep=lost)
        ids = [submission_id for submission_id in ids if submission_id not in given_up]
        stale = [  # not while its grading jobs wait: their similarity jobs are queued behind them
            (assignment.id, user_id)
            for assignment in session.scalars(select(Assignment))
            if not submissions.grading_pending(session, assignment)
            for user_id in similarity.stale_students(
                session, assignment, graded_before=now - timedelta(seconds=settings.requeue_after_s)
            )
        ]
        archives = similarity.archives_to_send(
            session,
            queued_before=now - timedelta(seconds=settings.requeue_after_s),
            stale_before=now - timedelta(seconds=settings.stuck_after_s),
        )
    if given_up:
        log.error("sweeper gave up on submission(s) %s: lost too many times", given_up)
    sent = sum(enqueue(submission_id) for submission_id in ids)
    if ids:
        log.info("sweeper re-sent %s of %s submission(s)", sent, len(ids))
    resent = sum(enqueue_similarity(*key) for key in stale) + sum(map(enqueue_archive, archives))
    if stale or archives:
        log.info("sweeper re-sent %s of %s similarity job(s)", resent, len(stale) + len(archives))
    return sent


@app.task(autoretry_for=(OperationalError,), retry_backoff=5, retry_backoff_max=120, max_retries=10)
def update_similarity(assignment_id: int, user_id: int) -> bool:
    """Compares the student's counted submission with the others, if it changed. Safe to run twice."""
    with session_factory()() as session:
        return similarity.index_student(session, assignment_id, user_id)


@app.task(autoretry_for=(OperationalError,), retry_backoff=5, retry_backoff_max=120, max_retries=10)
def index_archive(archive_id: int) -> None:
    """Fingerprints an uploaded archive of earlier handins (compared against, never scored)."""
    with session_factory()() as session:
        stale_before = utcnow() - timedelta(seconds=get_settings().stuck_after_s)
        archive: SimilarityArchive | None = similarity.index_archive(session, archive_id, stale_before)
        if archive is not None:
            log.info(
                "similarity archive %s: %s, %s handin(s) indexed, %s",
                archive.label,
                archive.status,
                archive.handins_indexed,
                archive.error or "no error",
            )
