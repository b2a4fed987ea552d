"""A worker's place in the `workers` table: whether it can confine handins, and a heartbeat.

No confinement, no grading: a worker whose sandbox cannot confine a handin (no bubblewrap, no cgroup
it may make) stops consuming the grading queue before it takes a job, says why in its log and in the
table, and the health endpoint and the staff pages show it. Uploads wait in the queue for a worker
that can grade them: none is lost or failed, no attempt is used.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from core.config import get_settings
from core.db import session_factory
from core.services import workers
from grader.sandbox import SandboxUnavailable, get_sandbox

log = logging.getLogger(__name__)
IDLE_QUEUE = "hw1grader-idle"  # consumed by a worker that has no other queue left: nobody sends to it


@dataclass(frozen=True)
class Confinement:
    grading: bool
    description: str
    weak: bool
    problem: str


def check_confinement() -> Confinement:
    """What this worker's sandbox can do here (the same check a grading run starts with)."""
    settings = get_settings()
    options = {"image": settings.docker_image} if settings.sandbox == "docker" else {}
    try:
        sandbox = get_sandbox(settings.sandbox, weak=settings.allow_weak_sandbox, **options)
        found = sandbox.check()
    except (SandboxUnavailable, ValueError) as error:
        return Confinement(False, "", False, str(error))
    return Confinement(True, found.description, not found.full, "")


def restrict_queues(queues, grading_queue: str) -> Confinement | None:
    """Run before the worker consumes: drops the grading queue if this worker cannot confine handins.
    Returns the check's result, or None for a worker that does not grade (the sweeper's)."""
    if grading_queue not in queues.consume_from:
        return None
    confinement = check_confinement()
    if not confinement.grading:
        log.error("this worker takes no grading job: %s", confinement.problem)
        queues.deselect(grading_queue)
        if not queues.consume_from:
            queues.select_add(IDLE_QUEUE)
    elif confinement.weak:
        log.warning("grading in a WEAK sandbox (ALLOW_WEAK_SANDBOX): %s", confinement.description)
    else:
        log.info("grading in %s", confinement.description)
    return confinement


class Heartbeat:
    """Registers the worker, then notes every `heartbeat_s` that it is alive, from a thread."""

    def __init__(self, name: str, confinement: Confinement | None):
        self.name, self.confinement = name, confinement
        self.worker_id: int | None = None
        self.stopping = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="heartbeat", daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()
        if self.worker_id is not None:
            try:
                with session_factory()() as session:
                    workers.stopped(session, self.worker_id)
            except SQLAlchemyError as error:
                log.warning("could not note that the worker stopped: %s", error)

    def _run(self) -> None:
        interval = get_settings().heartbeat_s
        while not self.stopping.is_set():
            try:
                with session_factory()() as session:
                    if self.worker_id is None:
                        self.worker_id = self._register(session)
                    else:
                        workers.heartbeat(session, self.worker_id)
            except SQLAlchemyError as error:  # the database is away: try again at the next beat
                log.warning("heartbeat not written: %s", error)
            self.stopping.wait(interval)

    def _register(self, session) -> int:
        found = self.confinement or Confinement(False, "", False, "")
        return workers.register(
            session, self.name, os.getpid(), found.grading, found.description, found.weak, found.problem
        )
