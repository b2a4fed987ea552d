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

Similarity jobs (a student's update, an archive's indexing) have a queue of their own, consumed by a
process that takes no grading job: at a deadline students wait for their scores, never behind them.
A similarity job is sent only if the same one does not wait in that queue already: after a grading, as
noted in the database (similarity/waiting.py); by the sweeper, as read from the queue itself.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterable
from functools import cache
from typing import TypeVar

from celery import Celery
from kombu import Connection, Exchange, Queue, serialization
from kombu.utils.json import loads
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.config import get_settings
from core.db import prepare_sqlite_folder, session_factory
from core.services import submissions
from core.similarity import waiting

log = logging.getLogger(__name__)
GRADE = "worker.tasks.grade_submission"  # the worker's tasks, by name
SIMILARITY = "worker.tasks.update_similarity"
ARCHIVE = "worker.tasks.index_archive"
SWEEP = "worker.tasks.sweep"
# A worker started without -Q takes grading and similarity jobs: there Redis serves the lower numbers
# first (the embedded SQLite transport ignores priorities, hence the similarity worker of `make run`).
SIMILARITY_PRIORITY = 9
FAST_FAIL = {"max_retries": 1, "interval_start": 0, "interval_step": 0}  # one connection try
FAST_SOCKETS = {"socket_connect_timeout": 1, "socket_timeout": 2}  # Redis's, in seconds
BROKEN_FOR_S = 5.0  # after a failed send, sends are skipped (left to the sweeper) this long
EPOCH_TTL_S = 5.0  # how long the broker's epoch is taken as known

_lock = threading.Lock()
_broken_until = 0.0
_epoch: tuple[float, str] | None = None
T = TypeVar("T")


def similarity_queue() -> str:
    """The similarity jobs' queue: the grading queue's name with ".similarity" (test runs side by side,
    which name their grading queues apart, never share it)."""
    return f"{get_settings().grading_queue}.similarity"


def _queue(name: str) -> Queue:
    return Queue(name, Exchange(name), routing_key=name)  # as Celery declares the queues it routes to


@cache
def celery() -> Celery:
    """The Celery application, configured from the settings; the worker adds its tasks and signals."""
    settings = get_settings()
    if settings.broker_url.startswith("sqla+"):
        prepare_sqlite_folder(settings.broker_url.removeprefix("sqla+"))
    app = Celery("hw1grader", broker=settings.broker_url)
    similarity = {"queue": similarity_queue()}
    app.conf.update(
        task_acks_late=True,  # a job is acknowledged only once graded: a dead worker's job is redelivered
        task_reject_on_worker_lost=True,
        task_ignore_result=True,  # results live in the database
        worker_prefetch_multiplier=1,  # one job at a time per process: a slow job never holds others back
        task_default_queue=settings.grading_queue,
        task_queues=[_queue(settings.grading_queue), _queue(similarity_queue())],  # a worker without -Q
        # The sweeper has a queue (and a consumer) of its own: a backlog of grading jobs never delays it.
        task_routes={SWEEP: {"queue": settings.sweeper_queue}, SIMILARITY: similarity, ARCHIVE: similarity},
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


def declare_queues() -> None:
    """Makes the service's queues in the broker. On the embedded transport a process makes a queue when
    it first uses it, and two making the same one at once collide (UNIQUE constraint failed:
    kombu_queue.name), which stopped the sweeper of `make run` as it started: `make serve` makes them
    all first."""
    settings = get_settings()
    with _connection() as connection:
        for name in (settings.grading_queue, similarity_queue(), settings.sweeper_queue):
            _queue(name)(connection.default_channel).declare()


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


def _with_broker(action: Callable[[Connection], T], what: str, extra: dict | None = None) -> T | None:
    """action(a connection to the broker), or None (and logged) if the broker cannot be reached."""
    global _broken_until
    if time.monotonic() < _broken_until:
        return None
    try:
        with _connection() as connection:
            return action(connection)
    except Exception as error:  # the broker is down: what the job is for is in the database
        with _lock:
            _broken_until = time.monotonic() + BROKEN_FOR_S
        log.warning("could not queue %s: %s", what, error, extra=extra)
        return None


def _send(connection: Connection, task: str, args: list, priority: int | None = None) -> str:
    """Sends a task; the broker epoch it went to."""
    celery().send_task(task, args=args, retry=False, priority=priority, connection=connection)
    return broker_epoch(connection)


def enqueue(submission_id: int) -> bool:
    """Sends the grading task and writes down that it was sent (and in which broker epoch); False (and
    logged) if the broker cannot be reached: the row says it was never sent, and the sweeper sends it."""
    extra = {"submission_id": submission_id}
    epoch = _with_broker(
        lambda connection: _send(connection, GRADE, [submission_id]), f"submission {submission_id}", extra
    )
    if epoch is None:
        return False
    try:
        with session_factory()() as session:
            submissions.mark_sent(session, submission_id, epoch)
    except SQLAlchemyError as error:  # at worst the sweeper sends it again (graded once)
        log.warning("could not note that submission %s was sent: %s", submission_id, error, extra=extra)
    log.info("queued submission %s", submission_id, extra=extra)
    return True


def waiting_jobs(connection: Connection, queue: str) -> set[tuple[str, tuple]]:
    """(task name, arguments) of each job waiting in `queue`; not those taken up by a worker."""
    channel = connection.default_channel
    match connection.transport.driver_type:
        case "redis":  # a list per priority
            keys = [channel._q_for_pri(queue, priority) for priority in channel.priority_steps]
            payloads = [payload for key in keys for payload in channel.client.lrange(key, 0, -1)]
        case "sql":  # the embedded transport (SQLAlchemy): a table, where taken jobs stay, invisible
            payloads = [row.payload for row in channel._query_all(queue).filter_by(visible=True)]
        case _:  # a broker whose queue cannot be read: every job is sent
            payloads = []
    return set(map(job_of, payloads))


def job_of(payload: str | bytes) -> tuple[str, tuple]:
    """(task name, arguments) of a message as the broker keeps it. Read from its fields directly: a
    kombu Message for each cost 60 ms per 1,000 waiting jobs, on every send after a grading."""
    message = loads(payload)
    body = message["body"]
    if message["properties"].get("body_encoding") == "base64":
        body = base64.b64decode(body)
    args = serialization.loads(body, message["content-type"], message["content-encoding"])[0]
    return message["headers"]["task"], tuple(args)


def enqueue_similarity_jobs(
    students: Iterable[tuple[int, int]] = (), archives: Iterable[int] = ()
) -> int | None:
    """The sweeper's send: the similarity updates of (assignment id, user id) students and the indexing
    of archives, but those that wait in the similarity queue already, as read from the queue itself
    (so a job that was lost is sent again, even if noted as waiting); how many were sent, or None (and
    logged) if the broker cannot be reached."""
    jobs = {(SIMILARITY, student) for student in students} | {(ARCHIVE, (archive,)) for archive in archives}
    what = f"{len(jobs)} similarity job(s)"
    missing = _with_broker(lambda connection: jobs - waiting_jobs(connection, similarity_queue()), what)
    if missing is None:
        return None
    if not missing:
        return 0
    _waiting(waiting.note, [args for task, args in missing if task == SIMILARITY])  # sent all the same
    return _send_similarity(missing)


def enqueue_similarity(assignment_id: int, user_id: int) -> bool:
    """Sends the similarity update of one student after a grading, unless one waits already (as noted in
    the database, within REQUEUE_AFTER_S: one row, whatever the backlog); False if it could not be sent
    (the sweeper finds the student's index stale and sends it)."""
    student = (assignment_id, user_id)
    noted = _waiting(waiting.note, [student])
    if noted is None:  # the database failed: the sweeper sends it
        return False
    if not noted:  # one waits already
        return True
    return _send_similarity({(SIMILARITY, student)}) is not None


def _send_similarity(jobs: set[tuple[str, tuple]]) -> int | None:
    """Sends similarity jobs whose students are noted as waiting (before: a worker may take a job up at
    once); how many, or None if the broker cannot be reached, and then the notes are dropped."""

    def send(connection: Connection) -> int:
        for task, args in sorted(jobs):
            celery().send_task(
                task, args=list(args), retry=False, priority=SIMILARITY_PRIORITY, connection=connection
            )
        return len(jobs)

    sent = _with_broker(send, f"{len(jobs)} similarity job(s)")
    if sent is None:
        _waiting(waiting.forget, [args for task, args in jobs if task == SIMILARITY])
    return sent


def _waiting(
    change: Callable[[Session, list[waiting.Student]], T], students: list[waiting.Student]
) -> T | None:
    """waiting.note or waiting.forget in a session of their own; None (and logged) if the database
    fails: a note only spares a second send, and a note left behind lasts REQUEUE_AFTER_S at most."""
    try:
        with session_factory()() as session:
            return change(session, students)
    except SQLAlchemyError as error:
        log.warning("could not note which similarity updates wait: %s", error)
        return None


def enqueue_archive(archive_id: int) -> bool:
    """Sends the indexing of an uploaded archive unless it waits already; False if the broker is down."""
    return enqueue_similarity_jobs(archives=[archive_id]) is not None
