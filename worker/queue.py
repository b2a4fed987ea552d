"""Sending jobs. A failed send loses nothing: the submission stays queued (or the similarity
index stale) in the database, and the sweeper sends it again."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from api.crud import submissions
from api.db import session_factory

log = logging.getLogger(__name__)


def enqueue(submission_id: int) -> bool:
    """Sends the grading task; returns False (and logs) if the broker cannot be reached."""
    from worker.tasks import grade_submission

    try:
        grade_submission.apply_async(args=[submission_id], retry=False)
    except Exception as error:  # the broker is down: the row is committed, the sweeper will resend
        log.warning(
            "could not queue submission %s: %s", submission_id, error, extra={"submission_id": submission_id}
        )
        return False
    try:
        with session_factory()() as session:
            submissions.mark_enqueued(session, submission_id)
    except SQLAlchemyError as error:  # the job is sent: at worst the sweeper sends it again (graded once)
        log.warning(
            "queued submission %s but could not note it: %s",
            submission_id,
            error,
            extra={"submission_id": submission_id},
        )
    log.info("queued submission %s", submission_id, extra={"submission_id": submission_id})
    return True


def enqueue_similarity(assignment_id: int, user_id: int) -> bool:
    """Sends the similarity update of one student; False (and logged) if the broker is away."""
    from worker.tasks import update_similarity

    try:
        update_similarity.apply_async(args=[assignment_id, user_id], retry=False)
    except Exception as error:  # the sweeper finds the stale document later
        log.warning("could not queue the similarity update of user %s: %s", user_id, error)
        return False
    return True


def enqueue_archive(archive_id: int) -> bool:
    """Sends the indexing of an uploaded archive; False (and logged) if the broker is away."""
    from worker.tasks import index_archive

    try:
        index_archive.apply_async(args=[archive_id], retry=False)
    except Exception as error:  # the archive stays queued: the sweeper sends it again
        log.warning("could not queue similarity archive %s: %s", archive_id, error)
        return False
    return True
