"""Sending grading jobs. A failed send leaves the submission queued: the sweeper sends it again."""

from __future__ import annotations

import logging

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
    with session_factory()() as session:
        submissions.mark_enqueued(session, submission_id)
    log.info("queued submission %s", submission_id, extra={"submission_id": submission_id})
    return True
