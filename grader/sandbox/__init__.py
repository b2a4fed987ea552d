"""The sandbox: one narrow interface (`run(argv, mounts, limits, env, cwd) -> RunResult`), three backends.

Nothing else in the code builds a bwrap or docker command line. argv, env values and cwd are sandbox
paths (mount targets); the program may write its results to fd 3, and its stdout and stderr are
captured separately, capped.
"""

from __future__ import annotations

from grader.sandbox.base import Limits, Mount, RunResult, Sandbox, SandboxUnavailable

BACKENDS = ("bwrap", "docker", "unsafe-process")


def get_sandbox(name: str, **options) -> Sandbox:
    """The backend called `name`: bwrap (default), docker, or unsafe-process (development only)."""
    if name == "bwrap":
        from grader.sandbox.bwrap import BwrapSandbox

        return BwrapSandbox(**options)
    if name == "docker":
        from grader.sandbox.docker import DockerSandbox

        return DockerSandbox(**options)
    if name == "unsafe-process":
        from grader.sandbox.unsafe import UnsafeProcessSandbox

        return UnsafeProcessSandbox(**options)
    raise ValueError(f"unknown sandbox {name!r}: use one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Limits", "Mount", "RunResult", "Sandbox", "SandboxUnavailable", "get_sandbox"]
