"""The sandbox interface: limits, mounts, and what a run returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class SandboxUnavailable(RuntimeError):
    """The backend cannot run here (bwrap missing, no user namespaces, no docker)."""


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 60.0
    cpu_seconds: int = 60
    memory_bytes: int = 1 << 30  # address space
    processes: int = 64
    file_size_bytes: int = 16 << 20
    open_files: int = 256
    output_bytes: int = 64 << 10  # stdout and stderr, each; the rest is drained and dropped
    result_bytes: int = 16 << 20  # the results channel (fd 3); over this the run is killed
    scratch_bytes: int = 64 << 20  # the writable tmpfs at /tmp


@dataclass(frozen=True)
class Mount:
    source: Path  # on the host
    target: str  # inside the sandbox; always read-only


@dataclass
class RunResult:
    exit_code: int | None  # None when killed by a signal
    signal: int | None
    killed_reason: str | None  # None, "wall-clock", "cpu" or "result-too-large"
    stdout: bytes
    stderr: bytes
    result: bytes  # what the program wrote to fd 3
    stdout_truncated: bool
    stderr_truncated: bool
    wall_seconds: float
    cpu_seconds: float
    backend: str


class Sandbox(Protocol):
    name: str

    def run(
        self, argv: list[str], *, mounts: list[Mount], limits: Limits, env: dict[str, str], cwd: str
    ) -> RunResult: ...
