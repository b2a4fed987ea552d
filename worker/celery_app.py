"""The worker's Celery application: core's (core/queue.py), with the tasks, the worker's logging,
priority, confinement check and heartbeat."""

from __future__ import annotations

from celery.signals import celeryd_after_setup, setup_logging, worker_init, worker_ready, worker_shutdown

from core.config import get_settings
from core.logs import configure_logging
from core.queue import celery
from worker.priority import lower_priority
from worker.registry import Heartbeat, restrict_queues

settings = get_settings()
app = celery()
app.conf.update(include=["worker.tasks"])


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
