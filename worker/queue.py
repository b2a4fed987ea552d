"""Sending jobs. A failed send loses nothing: the submission stays queued (or the similarity
index stale) in the database, and the sweeper sends it again."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from api.crud import submissions
from api.db import session_factory

log = logging.getLogger(__name__)
# Similarity jobs wait while grading jobs are queued: at a deadline students wait for their scores,
# staff look at the similarity list later. (Redis serves the lower numbers first; the embedded
# SQLite transport ignores priorities and runs jobs in order.)
SIMILARITY_PRIORITY = 9


def _send(task, args: list, what: str, extra: dict | None = None, priority: int | None = None) -> bool:
    """Sends a task; False (and logged) if the broker cannot be reached: the sweeper sends it later."""
    try:
        task.apply_async(args=args, retry=False, priority=priority)
    except Exception as error:  # the broker is down: what the task is for is in the database
        log.warning("could not queue %s: %s", what, error, extra=extra)
        return False
    return True


def enqueue(submission_id: int) -> bool:
    """Sends the grading task; returns False (and logs) if the broker cannot be reached."""
    from worker.tasks import grade_submission

    if not _send(
        grade_submission, [submission_id], f"submission {submission_id}", {"submission_id": submission_id}
    ):
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
    """Sends the similarity update of one student (a stale document is found by the sweeper)."""
    from worker.tasks import update_similarity

    return _send(
        update_similarity,
        [assignment_id, user_id],
        f"the similarity update of user {user_id}",
        priority=SIMILARITY_PRIORITY,
    )


def enqueue_archive(archive_id: int) -> bool:
    """Sends the indexing of an uploaded archive (it stays queued for the sweeper otherwise)."""
    from worker.tasks import index_archive

    return _send(
        index_archive, [archive_id], f"similarity archive {archive_id}", priority=SIMILARITY_PRIORITY
    )
