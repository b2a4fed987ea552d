"""The sandbox interface: limits, mounts, what a run returns, and the checks every backend shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from grader.errors import InfrastructureError


class SandboxUnavailable(InfrastructureError):
    """The backend cannot confine code here (bwrap missing, no user namespaces, no cgroup, no docker)."""


@dataclass(frozen=True)
class Confinement:
    """How a backend confines student code on this host (what `Sandbox.check` found)."""

    description: str  # e.g. "bwrap, cgroup v1 (...)", shown to staff
    full: bool  # False: a weak mode (no cgroup, or no isolation at all), for a laptop demo only


@dataclass(frozen=True)
class Limits:
    """What one run may use. With a cgroup (bwrap), CPU, memory and processes bind the whole process
    tree; each process also gets them as rlimits (RLIMIT_CPU, RLIMIT_AS), a second fence."""

    wall_seconds: float = 60.0
    cpu_seconds: int = 20
    memory_bytes: int = 1 << 30  # the tree's memory without swap (cgroup), and each process's RLIMIT_AS
    processes: int = 64  # the tree's tasks (cgroup pids.max; RLIMIT_NPROC without a cgroup)
    file_size_bytes: int = 16 << 20  # RLIMIT_FSIZE
    open_files: int = 256  # RLIMIT_NOFILE
    output_bytes: int = 64 << 10  # stdout and stderr, each; the rest is drained and dropped
    result_bytes: int = 16 << 20  # the results channel (fd 3); over this the run is killed
    scratch_bytes: int = 64 << 20  # the writable tmpfs at /tmp


@dataclass(frozen=True)
class Mount:
    source: Path  # on the host
    target: str  # absolute path inside the sandbox; always read-only


@dataclass
class RunResult:
    exit_code: int | None  # None when killed by a signal
    signal: int | None
    killed_reason: str | None  # None, "wall-clock", "cpu", "idle" or "result-too-large"
    stdout: bytes  # capped at Limits.output_bytes
    stderr: bytes  # capped at Limits.output_bytes
    result: bytes  # what the program wrote to fd 3
    stdout_truncated: bool
    stderr_truncated: bool
    wall_seconds: float
    cpu_seconds: float  # user + sys of the sandboxed process tree
    backend: str
    memory_peak_bytes: int | None = None  # the tree's peak, where a cgroup measured it
    oom_kills: int = 0  # processes the kernel killed at the cgroup's memory limit
    cgroup: str | None = None  # the name of the run's cgroup, removed when the run ended


class Sandbox(Protocol):
    name: str

    def check(self) -> Confinement:
        """How the backend confines code here; SandboxUnavailable if it cannot, as configured."""
        ...

    def run(
        self, argv: list[str], *, mounts: list[Mount], limits: Limits, env: dict[str, str], cwd: str
    ) -> RunResult: ...


def check_request(argv: list[str], mounts: list[Mount], env: dict[str, str], cwd: str) -> None:
    """Rejects a malformed request early, as a grader bug (ValueError), before any process starts.

    Otherwise a missing mount source or a bad variable name would surface as the student's program
    "exiting with code 1".
    """
    if not argv:
        raise ValueError("argv is empty")
    for mount in mounts:
        if not mount.target.startswith("/"):
            raise ValueError(f"mount target must be absolute: {mount.target!r}")
        if not Path(mount.source).exists():
            raise ValueError(f"mount source does not exist: {mount.source}")
    for key in env:
        if not key or "=" in key or "\0" in key:
            raise ValueError(f"bad environment variable name: {key!r}")
    if not cwd.startswith("/"):
        raise ValueError(f"cwd must be an absolute sandbox path: {cwd!r}")
