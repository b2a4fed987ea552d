"""Runs one process tree with rlimits, a results pipe on fd 3, capped output and a wall-clock kill.

Shared by the bwrap and unsafe-process backends.
"""

from __future__ import annotations

import contextlib
import os
import resource
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field

from grader.sandbox.base import Limits, RunResult

RESULT_FD = 3
READ_CHUNK = 64 * 1024
DRAIN_AFTER_KILL_S = 2.0


def count_processes(uid: int) -> int:
    """How many processes `uid` already has (RLIMIT_NPROC counts them all)."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except FileNotFoundError:
                pass
    return count


def rlimits(limits: Limits, nproc: int) -> dict[int, int]:
    return {
        resource.RLIMIT_CPU: limits.cpu_seconds,
        resource.RLIMIT_AS: limits.memory_bytes,
        resource.RLIMIT_NPROC: nproc,
        resource.RLIMIT_FSIZE: limits.file_size_bytes,
        resource.RLIMIT_NOFILE: limits.open_files,
        resource.RLIMIT_CORE: 0,
    }


@dataclass
class _Stream:
    cap: int
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False

    def add(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        if len(chunk) > room:
            self.truncated = True
        self.data += chunk[: max(room, 0)]


def run_process(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: str,
    limits: Limits,
    backend: str,
    user: int | None = None,
    nproc: int | None = None,
) -> RunResult:
    """Runs `argv` in a new session with `limits`; `user` drops to that uid/gid first (when root)."""
    read_end, write_end = os.pipe()
    limit_table = rlimits(limits, nproc if nproc is not None else limits.processes)

    def prepare_child() -> None:  # runs in the child, after the uid switch, before exec
        for kind, value in limit_table.items():
            resource.setrlimit(kind, (value, value))
        os.dup2(write_end, RESULT_FD)

    started = time.monotonic()
    process = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=prepare_child,
        pass_fds=(RESULT_FD,),
        start_new_session=True,
        user=user,
        group=user,
        extra_groups=[] if user is not None else None,
    )
    os.close(write_end)
    streams = {
        process.stdout.fileno(): _Stream(limits.output_bytes),
        process.stderr.fileno(): _Stream(limits.output_bytes),
        read_end: _Stream(limits.result_bytes),
    }
    killed_reason = None
    deadline = started + limits.wall_seconds
    with selectors.DefaultSelector() as selector:
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                if killed_reason is None:
                    killed_reason = "wall-clock"
                    _kill(process)
                    deadline = time.monotonic() + DRAIN_AFTER_KILL_S
                    continue
                break  # something outside the process tree holds a pipe open: stop reading
            for key, _ in selector.select(timeout):
                chunk = os.read(key.fd, READ_CHUNK)
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                stream = streams[key.fd]
                stream.add(chunk)
                if key.fd == read_end and stream.truncated and killed_reason is None:
                    killed_reason = "result-too-large"
                    _kill(process)
                    deadline = time.monotonic() + DRAIN_AFTER_KILL_S
    _kill(process)  # whatever is left of the tree (a daemonized grandchild) goes too
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    for handle in (process.stdout, process.stderr):
        handle.close()
    os.close(read_end)
    cpu = usage.ru_utime + usage.ru_stime
    exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    stdout, stderr, result = streams.values()
    return RunResult(
        exit_code=exit_code,
        signal=sig,
        killed_reason=killed_reason,
        stdout=bytes(stdout.data),
        stderr=bytes(stderr.data),
        result=bytes(result.data),
        stdout_truncated=stdout.truncated,
        stderr_truncated=stderr.truncated,
        wall_seconds=time.monotonic() - started,
        cpu_seconds=cpu,
        backend=backend,
    )


def cpu_killed(result: RunResult, limits: Limits) -> bool:
    """Whether the run ended at the CPU limit (SIGXCPU, or SIGKILL at the hard limit)."""
    return result.signal in (signal.SIGXCPU, signal.SIGKILL) and result.cpu_seconds >= limits.cpu_seconds - 1


def _kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
