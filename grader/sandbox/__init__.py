"""The sandbox: one narrow interface (`check() -> Confinement`, `run(argv, mounts, limits, env, cwd) ->
RunResult`), three backends.

Nothing else in the code builds a bwrap or docker command line. argv, env values and cwd are sandbox
paths (mount targets); the program may write its results to fd 3, and its stdout and stderr are
captured separately, capped.
"""

from __future__ import annotations

from grader.sandbox.base import Confinement, Limits, Mount, RunResult, Sandbox, SandboxUnavailable

BACKENDS = ("bwrap", "docker", "unsafe-process")


def get_sandbox(name: str, weak: bool = False, **options) -> Sandbox:
    """The backend called `name`: bwrap (default), docker, or unsafe-process (development only).

    `weak` lets bwrap run without a cgroup (rlimits only) and unsafe-process run at all: a laptop
    demo's choice, never a course's. Without it, `check()` fails where code cannot be fully confined.
    """
    if name == "bwrap":
        from grader.sandbox.bwrap import BwrapSandbox

        return BwrapSandbox(weak=weak, **options)
    if name == "docker":
        from grader.sandbox.docker import DockerSandbox

        return DockerSandbox(**options)
    if name == "unsafe-process":
        from grader.sandbox.unsafe import UnsafeProcessSandbox

        return UnsafeProcessSandbox(weak=weak, **options)
    raise ValueError(f"unknown sandbox {name!r}: use one of {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS",
    "Confinement",
    "Limits",
    "Mount",
    "RunResult",
    "Sandbox",
    "SandboxUnavailable",
    "get_sandbox",
]
