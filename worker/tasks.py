"""Celery tasks: grade one submission, sweep lost jobs, keep the similarity index current."""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from core.config import get_settings
from core.db import session_factory
from core.models import Assignment, SimilarityArchive, Status, utcnow
from core.outage import with_database
from core.queue import broker_epoch, enqueue, enqueue_similarity, enqueue_similarity_jobs
from core.services import submissions
from core.similarity import index as similarity
from core.similarity import waiting
from grader.config import GraderConfig
from grader.errors import InfrastructureError
from grader.grade import grade_handin
from grader.sandbox import Limits
from worker.celery_app import app

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


@dataclass(frozen=True)
class Job:
    """What grading a claimed submission needs, read in the claim's transaction."""

    data: bytes
    config: GraderConfig


def claim_job(session, submission_id: int) -> Job | None:
    submission = submissions.claim(session, submission_id, get_settings().lease_s)
    if submission is None:
        return None
    return Job(submissions.blob_bytes(session, submission), grader_config(submission.assignment))


class Lease:
    """Renews the job's lease from a thread while it is graded: the job stays this worker's for as
    long as it lives, however long grading takes, and runs again soon after it dies."""

    def __init__(self, submission_id: int):
        self.submission_id, self.done = submission_id, threading.Event()
        self.thread = threading.Thread(target=self._renew, name=f"lease-{submission_id}", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()

    def _renew(self) -> None:
        lease_s = get_settings().lease_s
        while not self.done.wait(lease_s / 3):
            try:
                with session_factory()() as session:
                    submissions.renew_lease(session, self.submission_id, lease_s)
            except SQLAlchemyError as error:  # an outage: the sweeper may send the job again, harmless
                log.warning("lease of submission %s not renewed: %s", self.submission_id, error)


def end_in_error(submission_id: int, message: str) -> None:
    with_database(submissions.mark_error, submission_id, message)


@app.task(
    bind=True,
    autoretry_for=(InfrastructureError,),  # the grader could not run: not the student's doing
    retry_backoff=5,
    retry_backoff_max=120,
    max_retries=get_settings().grading_retries,
    acks_on_failure_or_timeout=False,  # a job that fails unexpectedly is delivered again, never dropped
)
def grade_submission(self, submission_id: int) -> None:
    """Grades one submission and stores the report in one transaction. Safe to run twice. A database
    outage is waited out (the job's message stays unacknowledged meanwhile): it never drops the job."""
    extra = {"submission_id": submission_id}
    job = with_database(claim_job, submission_id)
    if job is None:
        log.info("submission %s already graded, gone or taken: nothing to do", submission_id, extra=extra)
        return
    log.info("grading submission %s (attempt %s)", submission_id, self.request.retries + 1, extra=extra)
    try:
        with Lease(submission_id), tempfile.TemporaryDirectory(prefix="job-") as scratch:
            archive = Path(scratch) / "handin.tar"
            archive.write_bytes(job.data)
            report = grade_handin(archive, job.config)
    except InfrastructureError as error:
        if self.request.retries >= self.max_retries:
            end_in_error(submission_id, f"grading failed on our side: {error}")
            log.error("submission %s: grader error, giving up: %s", submission_id, error, extra=extra)
            return
        with_database(submissions.release, submission_id)  # queued again, sent: its retry is on its way
        raise
    except Exception as error:  # a defect of the grader: running it again would end the same way
        end_in_error(submission_id, f"the grader failed: {type(error).__name__}")
        log.exception("submission %s: the grader failed", submission_id, extra=extra)
        return
    try:
        assignment_id, user_id = with_database(submissions.store_report, submission_id, report.to_dict())
    except SQLAlchemyError as error:  # the report itself: never leave the submission running
        end_in_error(submission_id, f"the report could not be stored: {type(error).__name__}")
        log.exception("submission %s: the report could not be stored", submission_id, extra=extra)
        return
    log.info("graded submission %s: %s/%s", submission_id, report.total, report.max, extra=extra)
    enqueue_similarity(assignment_id, user_id)


@app.task(expires=get_settings().sweep_interval_s)  # a sweep that waited a whole interval is stale
def sweep() -> int:
    """Sends again the jobs a broker outage or a dead worker left behind; returns how many. It runs on
    a queue of its own, so a backlog of grading jobs never delays it."""
    settings = get_settings()
    now = utcnow()
    try:
        epoch = broker_epoch()
    except Exception as error:  # the broker is down: nothing can be sent now anyway
        log.warning("sweeper: the broker is unreachable: %s", error)
        return 0
    with session_factory()() as session:
        ids = submissions.due_for_resend(
            session,
            epoch,
            unsent_before=now - timedelta(seconds=settings.unsent_after_s),
            sent_before=now - timedelta(seconds=settings.lost_after_s),
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
        stale = [
            (assignment.id, user_id)
            for assignment in session.scalars(select(Assignment))
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
    if stale or archives:  # those whose job still waits in the queue are not sent again
        resent = enqueue_similarity_jobs(stale, archives)
        log.info("sweeper re-sent %s of %s similarity job(s)", resent or 0, len(stale) + len(archives))
    return sent


@app.task(autoretry_for=(OperationalError,), retry_backoff=5, retry_backoff_max=120, max_retries=10)
def update_similarity(assignment_id: int, user_id: int) -> bool:
    """Compares the student's counted submission with the others, if it changed. Safe to run twice."""
    with session_factory()() as session:
        waiting.forget(session, [(assignment_id, user_id)])  # a grading from now on sends a new update
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
