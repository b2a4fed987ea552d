"""A sandbox that runs nothing: it answers each run with a scripted result (as CMS tests its grading
with a FakeSandbox), and the launcher's stream is built here record by record. For fast tests of
grading, of the stream's demultiplexing and of the comparison, with no bubblewrap and no runtime code.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.harness import channel
from grader.sandbox import Confinement, Limits, Mount, RunResult

ENDED = {
    "exit_code": 0,
    "signal": None,
    "killed_reason": None,
    "cpu_seconds": 0.05,
    "wall_seconds": 0.1,
    "stdout_truncated": False,
    "stderr_truncated": False,
}


def frame(case: str, arrays: dict[str, np.ndarray], status: str = "ok", **meta) -> bytes:
    """One case's frame, as the harness writes it: its arrays, graded, and its metadata."""
    quantities = [{"name": name, "graded": True, "type": "numpy.ndarray"} for name in arrays]
    buffer = io.BytesIO()
    described = {"case": case, "status": status, "quantities": quantities, **meta}
    np.savez(buffer, __meta__=np.array(json.dumps(described)), **arrays)
    return len(buffer.getvalue()).to_bytes(8, "big") + buffer.getvalue()


def record(index: int, kind: str, body: bytes) -> bytes:
    """One record of the launcher's stream."""
    return channel.header(index, kind, len(body)) + body


def end(index: int, **how) -> bytes:
    """A problem's END record: how its process ended (an exit 0 unless told)."""
    return record(index, "end", json.dumps(ENDED | how).encode())


def run_result(stream: bytes, **how) -> RunResult:
    """The launcher's run as the sandbox reports it: its stream on the results channel."""
    fields = {"exit_code": 0, "signal": None, "killed_reason": None, "wall_seconds": 0.3, "cpu_seconds": 0.2}
    return RunResult(
        stdout=b"",
        stderr=b"",
        result=stream,
        stdout_truncated=False,
        stderr_truncated=False,
        backend="fake",
        **(fields | how),
    )


@dataclass
class Request:
    argv: list[str]
    mounts: list[Mount]
    limits: Limits
    env: dict[str, str]
    files: dict[str, list[str]]  # mount target -> the names in its source folder, during the run


@dataclass
class FakeSandbox:
    """Answers each run with the next of `runs`, and keeps what each run asked for."""

    runs: list[RunResult]
    requests: list[Request] = field(default_factory=list)
    name: str = "fake"

    def check(self) -> Confinement:
        return Confinement("fake: runs nothing", full=True)

    def run(self, argv, *, mounts, limits, env, cwd) -> RunResult:
        files = {
            mount.target: sorted(path.name for path in Path(mount.source).iterdir())
            for mount in mounts
            if Path(mount.source).is_dir()
        }
        self.requests.append(Request(list(argv), list(mounts), limits, dict(env), files))
        return self.runs.pop(0)
