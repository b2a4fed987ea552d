"""Runs one process tree with rlimits, a results pipe on fd 3, capped output and a wall-clock kill."""

from __future__ import annotations

import contextlib
import os
import resource
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from grader.harness import channel
from grader.sandbox.base import Limits, RunResult
from grader.sandbox.cgroup import Group

RESULT_FD = channel.FD
READ_CHUNK = 64 << 10
DRAIN_S = 2.0  # after a kill: how long the pipes may take to close before we stop reading
EXIT_GRACE_S = 0.5  # after the process exits: how long leftover descendants may hold a pipe
POLL_S = 0.05  # exit polling interval where pidfd_open is unavailable
CPU_CHECK_S = 0.1  # how often a cgroup's CPU time is read against the limit
CPU_HARD_GRACE_S = 1  # RLIMIT_CPU: SIGXCPU at the limit, SIGKILL this much later
# A pipe that gave a trickle (under SMALL_READ bytes) is read again only READ_PAUSE_S later while the
# program runs: however it splits what it writes (a byte at a time, waiting for each to be read), the
# trusted side makes at most a few hundred reads a second, and the program's writes merely wait.
SMALL_READ = 4096
READ_PAUSE_S = 0.02
# Every sandbox of a root worker runs as the same host uid, and RLIMIT_NPROC counts that uid's tasks:
# with a cgroup (pids.max) holding each sandbox, it is only a host-wide fence this many sandboxes wide,
# so that one handin's processes can never make another's forks fail.
NPROC_FENCE_SANDBOXES = 32


def nproc_limit(uid: int, limits: Limits, cgroup: Group | None) -> int:
    """RLIMIT_NPROC for a run as `uid`: what the uid runs already, plus the run's own budget (without a
    cgroup), or the host-wide fence (with one: pids.max is then the run's own limit)."""
    return task_count(uid) + limits.processes * (NPROC_FENCE_SANDBOXES if cgroup is not None else 1)


def rlimits(limits: Limits, nproc: int) -> dict[int, tuple[int, int]]:
    """The (soft, hard) rlimits a sandboxed tree inherits. Soft = hard, so the program cannot raise them,
    but for the CPU: SIGXCPU at the limit names the kill, whatever the kernel's tick accounting counted
    (a SIGKILL at the same limit came with less CPU time than the limit, and was taken for another
    kill); a program that ignores it is SIGKILLed CPU_HARD_GRACE_S later."""
    fixed = {
        resource.RLIMIT_AS: limits.memory_bytes,
        resource.RLIMIT_NPROC: nproc,
        resource.RLIMIT_FSIZE: limits.file_size_bytes,
        resource.RLIMIT_NOFILE: limits.open_files,
        resource.RLIMIT_CORE: 0,
    }
    cpu = (limits.cpu_seconds, limits.cpu_seconds + CPU_HARD_GRACE_S)
    return {resource.RLIMIT_CPU: cpu} | {kind: (value, value) for kind, value in fixed.items()}


def task_count(uid: int) -> int:
    """How many tasks (threads included) run with real uid `uid`: what RLIMIT_NPROC counts."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as handle:
                status = handle.read()
        except OSError:  # gone meanwhile
            continue
        real_uid, threads = None, 1
        for line in status.splitlines():
            if line.startswith(b"Uid:"):
                real_uid = int(line.split()[1])
            elif line.startswith(b"Threads:"):
                threads = int(line.split()[1])
        if real_uid == uid:
            total += threads
    return total


def child_pids(pid: int) -> list[int]:
    """The direct children of `pid` (from /proc)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(child) for child in handle.read().split()]
    children = []  # kernels without CONFIG_PROC_CHILDREN: scan every process's parent
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{entry.name}/stat").read_bytes()
                if int(stat[stat.rindex(b")") + 2 :].split()[1]) == pid:  # the field after the state
                    children.append(int(entry.name))
    return children


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILLs the process group the child leads (it was started in a group of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


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
    rlimit_table: Mapping[int, tuple[int, int]],
    user: tuple[int, int] | None = None,
    results_on_stdout: bool = False,
    terminate: Callable[[subprocess.Popen], None] = kill_group,
    new_session: bool = True,
    cgroup: Group | None = None,
    pass_fds: tuple[int, ...] = (),
) -> RunResult:
    """Runs `argv` in a process group of its own until it ends, the wall clock runs out or the
    results overflow.

    `user` (uid, gid) is switched to in the child before exec (root workers: RLIMIT_NPROC does not
    bind root). The results channel is fd 3, or the child's stdout when `results_on_stdout` (docker).
    `terminate` is how a kill is done; whatever is left of the group is SIGKILLed at the end anyway.
    `new_session` detaches the child from the caller's session (and its terminal). Without it, the
    child stays in the caller's session, hence in its scheduling group: with the kernel's autogroups,
    each session competes for the CPU as one, so sandboxes in sessions of their own would each
    weigh as much as the web API, and a niced worker would not yield to it.
    `cgroup`: the child joins it before exec, so the whole tree is in it; its CPU time is enforced
    (`limits.cpu_seconds`, killed as "cpu"), a kill kills all of it, and its figures are reported.
    `pass_fds`: more descriptors the child keeps (numbered above RESULT_FD).
    """
    table = dict(rlimit_table)
    if results_on_stdout:
        read_end = write_end = None
    else:
        read_end, write_end = os.pipe()

    def prepare_child() -> None:  # in the child, between fork and exec
        if cgroup is not None:  # first: still root, and before anything else runs
            cgroup.attach(os.getpid())
        for kind, soft_and_hard in table.items():
            resource.setrlimit(kind, soft_and_hard)
        if user is not None:
            os.setgroups([])
            os.setgid(user[1])
            os.setuid(user[0])
        if write_end is not None:
            os.dup2(write_end, RESULT_FD)  # dup2 leaves the copy inheritable

    started = time.monotonic()
    try:
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=prepare_child,
            pass_fds=(*pass_fds, *(() if results_on_stdout else (RESULT_FD,))),
            start_new_session=new_session,
            process_group=None if new_session else 0,
        )
    except BaseException:
        for fd in (read_end, write_end):
            if fd is not None:
                os.close(fd)
        raise
    if write_end is not None:
        os.close(write_end)
    output, errors = _Stream(limits.output_bytes), _Stream(limits.output_bytes)
    results = _Stream(limits.result_bytes)
    streams = {process.stderr.fileno(): errors}
    if results_on_stdout:
        streams[process.stdout.fileno()] = results
    else:
        streams[process.stdout.fileno()] = output
        streams[read_end] = results
    if cgroup is not None:
        terminate = _and_the_cgroup(terminate, cgroup)
    try:
        status, usage, killed_reason = _watch(process, streams, results, limits, terminate, cgroup)
    finally:
        for handle in (process.stdout, process.stderr):
            handle.close()
        if read_end is not None:
            os.close(read_end)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped by us: Popen must not wait again
    if cgroup is not None:
        cgroup.kill()  # what outlived the program (a pid namespace's init takes the rest with it)
    return RunResult(
        exit_code=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        killed_reason=killed_reason,
        stdout=bytes(output.data),
        stderr=bytes(errors.data),
        result=bytes(results.data),
        stdout_truncated=output.truncated,
        stderr_truncated=errors.truncated,
        wall_seconds=time.monotonic() - started,
        # The cgroup counts every process of the tree, those the kernel killed with a pid namespace too.
        cpu_seconds=cgroup.cpu_seconds() if cgroup is not None else usage.ru_utime + usage.ru_stime,
        backend=backend,
        memory_peak_bytes=cgroup.memory_peak() if cgroup is not None else None,
        oom_kills=cgroup.oom_kills() if cgroup is not None else 0,
        cgroup=cgroup.name if cgroup is not None else None,
    )


def _and_the_cgroup(terminate: Callable[[subprocess.Popen], None], cgroup: Group):
    def both(process: subprocess.Popen) -> None:
        terminate(process)
        cgroup.kill()

    return both


def _watch(
    process: subprocess.Popen,
    streams: dict[int, _Stream],
    results: _Stream,
    limits: Limits,
    terminate: Callable[[subprocess.Popen], None],
    cgroup: Group | None,
) -> tuple[int, resource.struct_rusage, str | None]:
    """Drains the pipes until the process has exited and they are closed; kills at the deadline, and
    once the cgroup's CPU time reaches the limit.

    Returns the wait status, the rusage of the reaped tree (wait4, so concurrent runs in other
    threads do not mix) and why we killed it, if we did. The child is reaped only at the very end,
    after the final group kill, so its pid (the group id) cannot have been reused meanwhile.
    """
    pidfd = _pidfd(process.pid)
    exited = False
    killed_reason = None
    deadline = time.monotonic() + limits.wall_seconds
    cpu_check = time.monotonic() + CPU_CHECK_S if cgroup is not None else None
    open_fds = set(streams)
    paused: dict[int, float] = {}  # fd -> when to read it again

    def kill(reason: str) -> None:
        nonlocal killed_reason, deadline
        killed_reason = reason
        with contextlib.suppress(OSError):
            terminate(process)
        deadline = time.monotonic() + DRAIN_S

    try:
        with selectors.DefaultSelector() as selector:
            for fd in open_fds:
                selector.register(fd, selectors.EVENT_READ)
            if pidfd is not None:
                selector.register(pidfd, selectors.EVENT_READ)
            while True:
                if not exited and pidfd is None and _has_exited(process.pid):
                    exited = True
                    deadline = min(deadline, time.monotonic() + EXIT_GRACE_S)
                if exited and not open_fds:
                    break
                now = time.monotonic()
                for fd, until in list(paused.items()):
                    if exited or now >= until:
                        selector.register(fd, selectors.EVENT_READ)
                        del paused[fd]
                if now >= deadline:
                    if not exited and killed_reason is None:
                        kill("wall-clock")
                        continue
                    break  # descendants outlived the process, or the kill is slow: stop reading
                if cpu_check is not None and now >= cpu_check and killed_reason is None:
                    cpu_check = now + CPU_CHECK_S
                    if cgroup.cpu_seconds() >= limits.cpu_seconds:
                        kill("cpu")
                        continue
                timeout = deadline - now if pidfd is not None or exited else min(POLL_S, deadline - now)
                if cpu_check is not None and killed_reason is None:
                    timeout = max(0.0, min(timeout, cpu_check - now))
                if paused:
                    timeout = max(0.0, min(timeout, min(paused.values()) - now))
                for key, _ in selector.select(timeout):
                    if key.fd == pidfd:
                        selector.unregister(pidfd)
                        exited = True
                        deadline = min(deadline, time.monotonic() + EXIT_GRACE_S)
                        continue
                    chunk = os.read(key.fd, READ_CHUNK)
                    if not chunk:
                        selector.unregister(key.fd)
                        open_fds.discard(key.fd)
                        continue
                    stream = streams[key.fd]
                    stream.add(chunk)
                    if stream is results and stream.truncated and killed_reason is None:
                        kill("result-too-large")
                    if len(chunk) < SMALL_READ and not exited:
                        selector.unregister(key.fd)
                        paused[key.fd] = time.monotonic() + READ_PAUSE_S
    finally:
        kill_group(process)  # leftovers (a daemonized descendant) go too
        _, status, usage = os.wait4(process.pid, 0)
        if pidfd is not None:
            os.close(pidfd)
    return status, usage, killed_reason


def _pidfd(pid: int) -> int | None:
    """A pidfd to wait on in the selector; None where the kernel or seccomp refuses (we poll then)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _has_exited(pid: int) -> bool:
    """Whether the child has exited, without reaping it (WNOWAIT)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def signal_from_exit_code(result: RunResult) -> None:
    """bwrap and `docker run` report a child killed by signal N as exit code 128 + N: undo that."""
    if result.exit_code is not None and 128 < result.exit_code < 128 + signal.NSIG:
        result.signal, result.exit_code = result.exit_code - 128, None


def mark_cpu_kill(result: RunResult, limits: Limits) -> None:
    """Names the CPU limit as the cause: SIGXCPU, or SIGKILL once the tree used the whole limit."""
    if result.killed_reason is not None:
        return
    if result.signal == signal.SIGXCPU or (
        result.signal == signal.SIGKILL and result.cpu_seconds >= limits.cpu_seconds - 0.5
    ):
        result.killed_reason = "cpu"
