"""Development only: runs the command on the host with rlimits but NO isolation. Warns on every run."""

from __future__ import annotations

import logging

from grader.sandbox.base import Limits, Mount, RunResult
from grader.sandbox.process import cpu_killed, run_process

log = logging.getLogger(__name__)
WARNING = "unsafe-process sandbox: student code runs unconfined on this machine; development only"


def translate(value: str, mounts: list[Mount]) -> str:
    """Rewrites a sandbox path (a mount target or below it) to the host path."""
    for mount in sorted(mounts, key=lambda m: len(m.target), reverse=True):
        if value == mount.target or value.startswith(mount.target.rstrip("/") + "/"):
            return str(mount.source) + value[len(mount.target.rstrip("/")) :]
    return value


class UnsafeProcessSandbox:
    name = "unsafe-process"

    def __init__(self, warn: bool = True):
        self.warn = warn  # False only for our own trusted code (the reference solution)

    def run(
        self, argv: list[str], *, mounts: list[Mount], limits: Limits, env: dict[str, str], cwd: str
    ) -> RunResult:
        if self.warn:
            log.warning(WARNING)
        command = [translate(arg, mounts) for arg in argv]
        host_env = {key: translate(value, mounts) for key, value in env.items()}
        host_env["PATH"] = ":".join(translate(part, mounts) for part in host_env.get("PATH", "").split(":"))
        result = run_process(
            command, env=host_env, cwd=translate(cwd, mounts), limits=limits, backend=self.name
        )
        if result.killed_reason is None and cpu_killed(result, limits):
            result.killed_reason = "cpu"
        return result
