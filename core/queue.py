"""The job queue: the one way the API, the CLI and the sweeper send jobs, and the Celery application
the worker (worker/celery_app.py) completes with its tasks. Jobs are sent by task name, so nothing
here imports the worker.

The database row is the outbox: a submission is committed first, sent after, and what was sent is
written down with the broker's life it was sent in (its epoch). A failed send loses nothing: the
sweeper sends what was never sent, or was sent to a broker that has restarted since (it kept
nothing), and leaves alone what waits in the broker.

Sends fail fast: one connection try with short socket timeouts (a broker that is down used to hold
each upload's thread for 6 s), and after a failure the next sends are skipped for a few seconds
instead of each waiting on it again.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cache

from celery import Celery
from sqlalchemy.exc import SQLAlchemyError

from core.config import get_settings
from core.db import prepare_sqlite_folder, session_factory
from core.services import submissions

log = logging.getLogger(__name__)
GRADE = "worker.tasks.grade_submission"  # the worker's tasks, by name
SIMILARITY = "worker.tasks.update_similarity"
ARCHIVE = "worker.tasks.index_archive"
SWEEP = "worker.tasks.sweep"
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


@cache
def celery() -> Celery:
    """The Celery application, configured from the settings; the worker adds its tasks and signals."""
    settings = get_settings()
    if settings.broker_url.startswith("sqla+"):
        prepare_sqlite_folder(settings.broker_url.removeprefix("sqla+"))
    app = Celery("hw1grader", broker=settings.broker_url)
    app.conf.update(
        task_acks_late=True,  # a job is acknowledged only once graded: a dead worker's job is redelivered
        task_reject_on_worker_lost=True,
        task_ignore_result=True,  # results live in the database
        worker_prefetch_multiplier=1,  # one job at a time per process: a slow job never holds others back
        task_default_queue=settings.grading_queue,
        # The sweeper has a queue (and a consumer) of its own: a backlog of grading jobs never delays it.
        task_routes={SWEEP: {"queue": settings.sweeper_queue}},
        broker_connection_retry_on_startup=True,
        beat_schedule={"sweep": {"task": SWEEP, "schedule": float(settings.sweep_interval_s)}},
    )
    if settings.broker_url.startswith(("redis://", "rediss://")):
        # An unacknowledged job goes back to the queue after this long (its worker died without saying so).
        app.conf.broker_transport_options = {
            "visibility_timeout": settings.broker_visibility_timeout_s,
            "socket_connect_timeout": 5,
        }
    return app


def _connection():
    app = celery()
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


def _send(
    task: str, args: list, what: str, extra: dict | None = None, priority: int | None = None
) -> str | None:
    """Sends a task; the broker epoch it went to, or None (and logged) if the broker cannot be reached."""
    global _broken_until
    if time.monotonic() < _broken_until:
        return None
    try:
        with _connection() as connection:
            celery().send_task(task, args=args, retry=False, priority=priority, connection=connection)
            return broker_epoch(connection)
    except Exception as error:  # the broker is down: what the task is for is in the database
        with _lock:
            _broken_until = time.monotonic() + BROKEN_FOR_S
        log.warning("could not queue %s: %s", what, error, extra=extra)
        return None


def enqueue(submission_id: int) -> bool:
    """Sends the grading task and writes down that it was sent (and in which broker epoch); False (and
    logged) if the broker cannot be reached: the row says it was never sent, and the sweeper sends it."""
    extra = {"submission_id": submission_id}
    epoch = _send(GRADE, [submission_id], f"submission {submission_id}", extra)
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
    return (
        _send(
            SIMILARITY,
            [assignment_id, user_id],
            f"the similarity update of user {user_id}",
            priority=SIMILARITY_PRIORITY,
        )
        is not None
    )


def enqueue_archive(archive_id: int) -> bool:
    """Sends the indexing of an uploaded archive (it stays queued for the sweeper otherwise)."""
    return (
        _send(ARCHIVE, [archive_id], f"similarity archive {archive_id}", priority=SIMILARITY_PRIORITY)
        is not None
    )
