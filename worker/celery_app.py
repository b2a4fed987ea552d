"""The Celery application, configured from the service settings."""

from __future__ import annotations

from celery import Celery
from celery.signals import celeryd_after_setup, setup_logging, worker_init, worker_ready, worker_shutdown

from api.config import get_settings
from api.db import prepare_sqlite_folder
from api.logs import configure_logging
from worker.priority import lower_priority
from worker.registry import Heartbeat, restrict_queues

settings = get_settings()
if settings.broker_url.startswith("sqla+"):
    prepare_sqlite_folder(settings.broker_url.removeprefix("sqla+"))


@setup_logging.connect
def _logging(**_) -> None:  # our JSON logs instead of Celery's own setup
    configure_logging()


@worker_init.connect
def _priority(**_) -> None:  # before the pool starts: its processes and their sandboxes inherit it
    lower_priority(settings.worker_nice)


_heartbeat: Heartbeat | None = None


@celeryd_after_setup.connect
def _confinement(sender, instance, **_) -> None:  # before it consumes anything
    global _heartbeat
    _heartbeat = Heartbeat(sender, restrict_queues(instance.app.amqp.queues, settings.grading_queue))


@worker_ready.connect
def _alive(**_) -> None:
    if _heartbeat is not None:
        _heartbeat.start()


@worker_shutdown.connect
def _gone(**_) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()


app = Celery("hw1grader", broker=settings.broker_url, include=["worker.tasks"])
app.conf.update(
    task_acks_late=True,  # a job is acknowledged only once graded: a dead worker's job is redelivered
    task_reject_on_worker_lost=True,
    task_ignore_result=True,  # results live in the database
    worker_prefetch_multiplier=1,  # one job at a time per process: a slow job never holds others back
    task_default_queue=settings.grading_queue,
    # The sweeper has a queue (and a consumer) of its own: a backlog of grading jobs never delays it.
    task_routes={"worker.tasks.sweep": {"queue": settings.sweeper_queue}},
    broker_connection_retry_on_startup=True,
    beat_schedule={
        "sweep": {"task": "worker.tasks.sweep", "schedule": float(settings.sweep_interval_s)},
    },
)
if settings.broker_url.startswith(("redis://", "rediss://")):
    # An unacknowledged job goes back to the queue after this long (its worker died without saying so).
    app.conf.broker_transport_options = {
        "visibility_timeout": settings.broker_visibility_timeout_s,
        "socket_connect_timeout": 5,
    }
