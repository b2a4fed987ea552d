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


def enqueue(submission_id: int, noted: bool = False) -> bool:
    """Sends the grading task and notes it in the row (`enqueued_at`, what the sweeper reads);
    returns False (and logs) if the broker cannot be reached. `noted`: the row was written as sent
    already (an upload), so only a failed send is written down."""
    from worker.tasks import grade_submission

    extra = {"submission_id": submission_id}
    sent = _send(grade_submission, [submission_id], f"submission {submission_id}", extra)
    if sent != noted:
        try:
            with session_factory()() as session:
                submissions.mark_enqueued(session, submission_id, sent)
        except SQLAlchemyError as error:  # at worst the sweeper sends it again (graded once)
            log.warning(
                "could not note whether submission %s was sent: %s", submission_id, error, extra=extra
            )
    if sent:
        log.info("queued submission %s", submission_id, extra=extra)
    return sent


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
