"""Grading yields the CPU: uploads and pages must stay quick while every core grades at a deadline."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)
AUTOGROUP = Path("/proc/self/autogroup")
AUTOGROUP_TRIES = 5  # the kernel takes one autogroup change per 100 ms, machine-wide


def lower_priority(nice: int) -> None:
    """Raises this process's nice value to `nice` (its pool processes and sandboxes inherit it).

    With the kernel's autogroups (the default on desktop and many server kernels, for processes
    outside a CPU cgroup), the CPU is shared between sessions first and nice values only count within
    a session. A worker that leads its own session (started by systemd, setsid or a container
    runtime) therefore also sets its session's autogroup nice; one started from the API's shell shares
    the API's session, where its own nice value is what counts.
    """
    change = nice - os.nice(0)
    if change > 0:
        os.nice(change)
    if os.getsid(0) != os.getpid() or not AUTOGROUP.exists():
        log.info("grading runs at nice %s", os.nice(0))
        return
    for _ in range(AUTOGROUP_TRIES):
        try:
            AUTOGROUP.write_text(str(nice))
        except BlockingIOError:  # EAGAIN: another change in the last 100 ms
            time.sleep(0.11)
            continue
        except OSError as error:
            log.warning("grading runs at nice %s; could not lower the session's priority: %s", nice, error)
            return
        log.info("grading runs at nice %s, its session too", nice)
        return
    log.warning("grading runs at nice %s; the kernel refused to lower the session's priority", nice)
