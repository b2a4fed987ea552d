"""Development only: runs the command on the host with rlimits but NO isolation. Warns on every run.

`warn=False` is for the grader's own trusted code (regenerating the reference answers), never for handins.
"""

from __future__ import annotations

import logging
import os

from grader.sandbox.base import Confinement, Limits, Mount, RunResult, SandboxUnavailable, check_request
from grader.sandbox.process import mark_cpu_kill, rlimits, run_process, task_count

log = logging.getLogger(__name__)
WARNING = "unsafe-process sandbox: student code runs unconfined; development only"


def translate(value: str, mounts: list[Mount]) -> str:
    """Rewrites a sandbox path (a mount target or below it) to the host path; longest target first."""
    for mount in sorted(mounts, key=lambda m: len(m.target), reverse=True):
        target = mount.target.rstrip("/")
        if value == mount.target or value.startswith(target + "/"):
            return str(mount.source).rstrip("/") + value[len(target) :]
    return value


def translate_env(value: str, mounts: list[Mount]) -> str:
    """Like `translate`, for each part of a colon-separated list too (PATH, PYTHONPATH)."""
    return ":".join(translate(part, mounts) for part in value.split(":"))


class UnsafeProcessSandbox:
    """The program runs as the worker's own user with the worker's view of the machine."""

    name = "unsafe-process"

    def __init__(self, warn: bool = True, weak: bool = False):
        self.warn = warn
        self.weak = weak  # the explicit consent that `check` asks for before it grades handins

    def check(self) -> Confinement:
        if not self.weak:
            raise SandboxUnavailable(
                "the unsafe-process sandbox runs student code unconfined: allow it explicitly "
                "(ALLOW_WEAK_SANDBOX=true, a laptop demo only) or use bwrap"
            )
        return Confinement("unsafe-process: NO isolation (weak: a laptop demo only)", full=False)

    def run(
        self, argv: list[str], *, mounts: list[Mount], limits: Limits, env: dict[str, str], cwd: str
    ) -> RunResult:
        check_request(argv, mounts, env, cwd)
        if self.warn:
            log.warning(WARNING)
        result = run_process(
            [translate(arg, mounts) for arg in argv],
            env={key: translate_env(value, mounts) for key, value in env.items()},
            cwd=translate(cwd, mounts),
            limits=limits,
            backend=self.name,
            rlimit_table=rlimits(limits, task_count(os.getuid()) + limits.processes),
        )
        mark_cpu_kill(result, limits)
        return result
