"""What a grading run needs to know: sandbox backend, runtime, limits and where the rubric is."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.paths import AUTOGRADER_DIR, RUNTIMES_DIR
from grader.sandbox import Limits
from grader.unpack import UnpackLimits


@dataclass(frozen=True)
class GraderConfig:
    sandbox: str = "bwrap"  # bwrap | docker | unsafe-process
    runtime: str = "default"  # a requirements file in grader/runtime/
    runtimes_dir: Path = RUNTIMES_DIR
    autograder_dir: Path = AUTOGRADER_DIR
    limits: Limits = field(default_factory=Limits)  # per problem: each runs in its own process
    # A problem whose process sleeps this long without using the CPU is stopped: grading code has
    # nothing to wait for, so it is stuck (a sleep, a lock), and would hold a job slot until the
    # wall-clock limit.
    idle_seconds: float = 3.0
    unpack_limits: UnpackLimits = field(default_factory=UnpackLimits)
    sandbox_options: dict = field(default_factory=dict)  # e.g. {"image": ...} for docker
    weak: bool = False  # allow bwrap without a cgroup, and unsafe-process: a laptop demo only
    # The instances graded: derived from this secret (the service passes the assignment's), or the
    # handout's published ones when None (local parity checks only: their answers are public).
    secret: bytes | None = None
