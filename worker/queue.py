"""Sending jobs. The database row is the outbox: a submission is committed first, sent after, and
what was sent is written down with the broker's life it was sent in (its epoch). A failed send
loses nothing: the sweeper sends what was never sent, or was sent to a broker that has restarted
since (it kept nothing), and leaves alone what waits in the broker.

Sends fail fast: one connection try with short socket timeouts (a broker that is down used to hold
each upload's thread for 6 s), and after a failure the next sends are skipped for a few seconds
instead of each waiting on it again.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import SQLAlchemyError

from api.crud import submissions
from api.db import session_factory

log = logging.getLogger(__name__)
# Similarity jobs wait while grading jobs are queued: at a deadline students wait for their scores,
# staff look at the similarity list later. (Redis serves the lower numbers first; the embedded
# SQLite transport ignores priorities and runs jobs in order.)
SIMILARITY_PRIORITY = 9
FAST_FAIL = {"max_retries": 1, "interval_start": 0, "interval_step": 0}  # one connection try
FAST_SOCKETS = {"socket_connect_timeout": 1, "socket_timeout": 2}  # Redis's, in seconds
BROKEN_FOR_S = 5.0  # after a failed send, sends are skipped (left to the sweeper) this long
EPOCH_TTL_S = 5.0  # how long the broker's epoch is taken as known

_lock = threading.Lock()
_broken_until = 0.0
_epoch: tuple[float, str] | None = None


def _connection():
    from worker.celery_app import app

    options = {**(app.conf.broker_transport_options or {}), **FAST_FAIL}
    if app.conf.broker_url.startswith(("redis://", "rediss://")):
        options |= FAST_SOCKETS
    return app.connection_for_write(transport_options=options)


def broker_epoch(connection=None) -> str:
    """Which life of the broker this is: Redis's run id changes when it restarts (and a Redis without
    persistence forgets every queued job then); other brokers keep their queues, so one epoch."""
    global _epoch
    with _lock:
        if _epoch is not None and time.monotonic() - _epoch[0] < EPOCH_TTL_S:
            return _epoch[1]
    owned = connection is None
    connection = connection or _connection()
    try:
        if connection.transport.driver_type == "redis":
            epoch = connection.default_channel.client.info("server")["run_id"]
        else:
            epoch = connection.transport_cls
    finally:
        if owned:
            connection.release()
    with _lock:
        _epoch = (time.monotonic(), epoch)
    return epoch


def _send(task, args: list, what: str, extra: dict | None = None, priority: int | None = None) -> str | None:
    """Sends a task; the broker epoch it went to, or None (and logged) if the broker cannot be reached."""
    global _broken_until
    if time.monotonic() < _broken_until:
        return None
    try:
        with _connection() as connection:
            task.apply_async(args=args, retry=False, priority=priority, connection=connection)
            return broker_epoch(connection)
    except Exception as error:  # the broker is down: what the task is for is in the database
        with _lock:
            _broken_until = time.monotonic() + BROKEN_FOR_S
        log.warning("could not queue %s: %s", what, error, extra=extra)
        return None


def enqueue(submission_id: int) -> bool:
    """Sends the grading task and writes down that it was sent (and in which broker epoch); False (and
    logged) if the broker cannot be reached: the row says it was never sent, and the sweeper sends it."""
    from worker.tasks import grade_submission

    extra = {"submission_id": submission_id}
    epoch = _send(grade_submission, [submission_id], f"submission {submission_id}", extra)
    if epoch is None:
        return False
    try:
        with session_factory()() as session:
            submissions.mark_sent(session, submission_id, epoch)
    except SQLAlchemyError as error:  # at worst the sweeper sends it again (graded once)
        log.warning("could not note that submission %s was sent: %s", submission_id, error, extra=extra)
    log.info("queued submission %s", submission_id, extra=extra)
    return True


def enqueue_similarity(assignment_id: int, user_id: int) -> bool:
    """Sends the similarity update of one student (a stale document is found by the sweeper)."""
    from worker.tasks import update_similarity

    return (
        _send(
            update_similarity,
            [assignment_id, user_id],
            f"the similarity update of user {user_id}",
            priority=SIMILARITY_PRIORITY,
        )
        is not None
    )


def enqueue_archive(archive_id: int) -> bool:
    """Sends the indexing of an uploaded archive (it stays queued for the sweeper otherwise)."""
    from worker.tasks import index_archive

    return (
        _send(index_archive, [archive_id], f"similarity archive {archive_id}", priority=SIMILARITY_PRIORITY)
        is not None
    )
