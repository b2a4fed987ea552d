"""Database work that waits out an outage instead of failing the job.

A job that hits a database outage used to retry three times in a row and then be acknowledged away:
a 35 s outage dropped the whole queued backlog. Here the job's process waits (with backoff, up to
DATABASE_OUTAGE_WAIT_S) and goes on once the database is back; the jobs behind it stay in the
broker meanwhile, and nothing is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from core.config import get_settings
from core.db import session_factory, unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
BACKOFF_S = (0.5, 1.0, 2.0, 3.0)  # then every 3 s: a returning database is used within seconds
LOG_EVERY_S = 30.0


def with_database(work: Callable[..., T], *args, what: str = "the database") -> T:
    """`work(session, *args)` in a session of its own, tried again while the database is unreachable.
    Any other error is raised at once."""
    give_up = time.monotonic() + get_settings().database_outage_wait_s
    tries, logged = 0, 0.0
    while True:
        try:
            with session_factory()() as session:
                return work(session, *args)
        except Exception as error:
            if not unavailable(error) or time.monotonic() > give_up:
                raise
            if time.monotonic() - logged > LOG_EVERY_S:
                log.warning("%s is unreachable, waiting for it: %s", what, str(error).splitlines()[0])
                logged = time.monotonic()
            time.sleep(BACKOFF_S[min(tries, len(BACKOFF_S) - 1)])
            tries += 1
