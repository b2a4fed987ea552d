"""Runs every problem of a handin in one sandbox, each in a process of its own, and multiplexes
what they write into the results channel.

This file runs INSIDE the sandbox, as the sandbox's first process, on the pinned runtime (standard
library and numpy only). It imports numpy once and forks one child per problem, so the three
problems pay for one interpreter and one numpy import instead of three. Each child runs
`harness.run_problem` with its own pipes for results (fd 3), stdout and stderr, its own time limit
and its own output caps: a hang or a crash costs that problem only.

usage: launcher.py AUTOGRADER_DIR SUBMISSION_DIR SPEC, where SPEC is JSON: {"wall_seconds",
"idle_seconds", "output_bytes", "result_bytes", "problems": [[problem, [[case, seed], ...]], ...]}

A problem's process is stopped at its wall-clock limit, or once it and the processes it started
have slept `idle_seconds` without using the CPU: grading code has nothing to wait for (no
network, no input), so it is stuck, and would otherwise hold the worker's job slot until the
wall-clock limit.

What it writes to fd 3 is a sequence of records: a 6-byte header (problem index: 1 byte; kind: 1
byte; length: 4 bytes big-endian; see channel.py), then that many bytes. The END record of a problem is
JSON: how its process ended. Nothing here decides a score: the trusted side demultiplexes the
stream (grader/launch.py) and re-checks everything.
"""

import contextlib
import ctypes
import json
import os
import selectors
import signal
import sys
import time

import channel

READ_CHUNK = 64 << 10
# What the problems write is gathered and passed on at most every FLUSH_S per stream (or once
# FLUSH_BYTES are waiting): a handin writing one byte at a time must not become a record per byte for
# the trusted side to read and parse.
FLUSH_S = 0.1
FLUSH_BYTES = 64 << 10
EXIT_GRACE_S = 0.5  # after a problem's process exits: how long what it left behind may hold its pipes
IDLE_CHECK_S = 0.25  # how often the problems' CPU time is looked at
PR_SET_DUMPABLE = 4
PIDFD_OPEN = 434  # its number on every architecture Linux added it to after 5.3


def record(index, kind, data):
    header = channel.header(index, kind, len(data))
    view = memoryview(header + data)
    while view:
        view = view[os.write(channel.FD, view) :]


def group_usage():
    """{process group: (CPU ticks of its processes and of their reaped children, any running?)}"""
    usage = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        group = int(fields[2])
        ticks = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
        before, running = usage.get(group, (0, False))
        usage[group] = (before + ticks, running or fields[0] == b"R")
    return usage


class Problem:
    """One forked problem: its pipes, how much each sent, its deadline and how it ended."""

    def __init__(self, index, pid, pidfd, fds, deadline):
        self.index, self.pid, self.pidfd, self.fds, self.deadline = index, pid, pidfd, fds, deadline
        self.started = time.monotonic()
        self.sent = {"result": 0, "stdout": 0, "stderr": 0}
        self.waiting = {"result": bytearray(), "stdout": bytearray(), "stderr": bytearray()}
        self.truncated = {"stdout": False, "stderr": False}
        self.killed_reason = None
        self.ended = None  # (wait status, rusage) once reaped
        self.exited_at = None
        self.cpu_ticks = -1  # of its process group at the last look, and when it last grew
        self.busy_at = self.started

    def check_idle(self, usage, now, idle_seconds):
        """Stops the problem once its process group has slept `idle_seconds` without using the CPU."""
        ticks, running = usage.get(self.pid, (self.cpu_ticks, False))  # the group is named after it
        if ticks != self.cpu_ticks or running:
            self.cpu_ticks, self.busy_at = ticks, now
        elif now - self.busy_at >= idle_seconds:
            self.kill("idle")

    def kill(self, reason):
        if self.killed_reason is None and self.ended is None:
            self.killed_reason = reason
            self.kill_group()
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)

    def kill_group(self):
        with contextlib.suppress(OSError):
            os.killpg(self.pid, signal.SIGKILL)


def start(index, problem, cases, spec, deadline):
    """Forks the process of one problem; the child never returns."""
    pipes = {kind: os.pipe() for kind in ("result", "stdout", "stderr")}
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            os.setpgid(0, 0)  # its own group: a kill at its deadline takes what it started along
            for kind, target in (("result", channel.FD), ("stdout", 1), ("stderr", 2)):
                os.dup2(pipes[kind][1], target)
            os.closerange(channel.FD + 1, 1 << 16)  # the other problems' pipes, the launcher's channel
            import harness

            harness.run_problem(spec["autograder"], spec["submission"], problem, cases)
        finally:
            os._exit(70)  # run_problem ends with os._exit(0); getting here means the harness itself failed
    for _, write_end in pipes.values():
        os.close(write_end)
    fds = {read_end: kind for kind, (read_end, _) in pipes.items()}
    return Problem(index, pid, pidfd_open(pid), fds, deadline)


def pidfd_open(pid):
    """os.pidfd_open, which Python 3.8 (the 2020 runtime) lacks: the system call itself there."""
    if hasattr(os, "pidfd_open"):
        return os.pidfd_open(pid)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(PIDFD_OPEN, pid, 0)
    if fd < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return fd


def forward(problem, kind, chunk, spec):
    """Takes a chunk in, within the problem's caps: output beyond its cap is dropped, results
    beyond theirs end the problem (and nothing after them is passed on)."""
    if kind == "result":
        if problem.killed_reason == "result-too-large":
            return
        if problem.sent["result"] + len(chunk) > spec["result_bytes"]:
            problem.kill("result-too-large")
            problem.killed_reason = "result-too-large"  # even if it had ended: its results are cut
            return
    else:
        room = spec["output_bytes"] - problem.sent[kind]
        if len(chunk) > room:
            problem.truncated[kind] = True
            chunk = chunk[: max(room, 0)]
    if chunk:
        problem.sent[kind] += len(chunk)
        problem.waiting[kind] += chunk
        if len(problem.waiting[kind]) >= FLUSH_BYTES:
            flush(problem)


def flush(problem):
    """Passes on what the problem's streams gathered, one record per stream."""
    for kind, waiting in problem.waiting.items():
        if waiting:
            record(problem.index, kind, bytes(waiting))
            waiting.clear()


def finish(problem, selector):
    """Closes what is left of the problem's pipes and writes its END record."""
    for fd in list(problem.fds):
        selector.unregister(fd)
        os.close(fd)
    problem.fds.clear()
    problem.kill_group()  # what it left running in its group (the namespace's end takes the rest)
    flush(problem)
    status, usage = problem.ended
    end = {
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "killed_reason": problem.killed_reason,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "wall_seconds": problem.exited_at - problem.started,
        "stdout_truncated": problem.truncated["stdout"],
        "stderr_truncated": problem.truncated["stderr"],
    }
    record(problem.index, "end", json.dumps(end).encode())


def reap(problems):
    """Collects every exited process: the problems', and orphans left to us as the namespace's init."""
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        problem = problems.get(pid)
        if problem is not None:
            problem.ended, problem.exited_at = (status, usage), time.monotonic()


def wake_at(problem, idle_check):
    """When the loop must look at the problem again, at the latest (its exit or output comes first)."""
    if problem.ended is not None:
        return problem.exited_at + EXIT_GRACE_S
    if problem.killed_reason is not None:  # killed: its pidfd is about to say so
        return time.monotonic() + 0.01
    return min(problem.deadline, idle_check)


def serve(spec):
    # Signals from the problems: as the namespace's init, only those with a handler reach this
    # process, and Python has one for SIGINT. Exits are watched through pidfds, not SIGCHLD.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Not dumpable: the problems' processes cannot open this one's channel through /proc/1/fd.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    import numpy  # noqa: F401 - once, here, before the handin is on the path: every problem inherits it

    selector = selectors.DefaultSelector()
    deadline = time.monotonic() + spec["wall_seconds"]
    problems = {}
    for index, (name, cases) in enumerate(spec["problems"]):
        problem = start(index, name, cases, spec, deadline)
        problems[problem.pid] = problem
        selector.register(problem.pidfd, selectors.EVENT_READ, (problem, None))
        for fd, kind in problem.fds.items():
            selector.register(fd, selectors.EVENT_READ, (problem, kind))
    pending = set(problems.values())
    idle_check = time.monotonic() + IDLE_CHECK_S
    flush_at = time.monotonic() + FLUSH_S
    while pending:
        reap(problems)
        now = time.monotonic()
        usage = None
        if now >= idle_check:
            usage, idle_check = group_usage(), now + IDLE_CHECK_S
        if now >= flush_at:
            for problem in pending:
                flush(problem)
            flush_at = now + FLUSH_S
        for problem in list(pending):
            if problem.ended is None and now >= problem.deadline:
                problem.kill("wall-clock")
            elif problem.ended is None and problem.killed_reason is None and usage is not None:
                problem.check_idle(usage, now, spec["idle_seconds"])
            elif problem.ended is not None and (not problem.fds or now >= problem.exited_at + EXIT_GRACE_S):
                finish(problem, selector)
                pending.discard(problem)
        timeout = min((wake_at(problem, min(idle_check, flush_at)) for problem in pending), default=now) - now
        for key, _ in selector.select(min(max(timeout, 0.0), 1.0)):
            problem, kind = key.data
            if kind is None:  # its pidfd: the process exited, it is reaped at the top of the loop
                selector.unregister(key.fd)
                os.close(key.fd)
                continue
            chunk = os.read(key.fd, READ_CHUNK)
            if chunk:
                forward(problem, kind, chunk, spec)
            else:
                selector.unregister(key.fd)
                os.close(key.fd)
                del problem.fds[key.fd]
    os._exit(0)  # as the namespace's init, its exit also ends whatever the problems left running


if __name__ == "__main__":
    autograder_dir, submission_dir, spec_text = sys.argv[1:]
    serve(dict(json.loads(spec_text), autograder=autograder_dir, submission=submission_dir))
