"""Handins that attack the host through many processes: each sandbox's cgroup holds the whole tree.

Per-process rlimits alone let six forked processes of 900 MB take 5.6 GB of the host, sixteen busy
loops use twice the CPU limit, and a handin grabbing the sandbox uid's process slots make other
students' sandboxes fail. These run on the real bwrap + cgroup path of this host.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from support.sandbox import assert_gone

from grader.config import GraderConfig
from grader.grade import grade_handin
from grader.rubric import load_rubric
from grader.sandbox import Limits
from grader.sandbox.cgroup import detect

RUBRIC = load_rubric()
BATCHNORM = {test.case for test in RUBRIC.TESTS if test.problem == "batchnorm"}
CONFIG = GraderConfig(
    sandbox="bwrap", limits=replace(Limits(), wall_seconds=20), idle_seconds=30, secret=b"confinement"
)


def in_forward(code: str):
    """An edit that runs `code` at the start of BatchNorm1d.forward (the BatchNorm problem alone)."""

    def edit(text: str) -> str:
        anchor = "    def forward(self, x):\n"
        return text.replace(anchor, anchor + "".join(f"        {line}\n" for line in code.splitlines()))

    return {"nn/batchnorm.py": edit}


def failed(report) -> set[str]:
    cases = {test.name: test.case for test in RUBRIC.TESTS}
    return {cases[result.name] for result in report.tests if not result.passed}


def available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemAvailable")


class LowestMemory:
    """Samples the host's available memory while a block runs; `drop` is the most it fell."""

    def __enter__(self):
        self.before, self.lowest, self.running = available_bytes(), available_bytes(), True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.lowest = min(self.lowest, available_bytes())
            time.sleep(0.01)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()

    @property
    def drop(self) -> int:
        return self.before - self.lowest


def test_a_memory_hog_of_many_processes_stays_within_the_limit(make_handin):
    hog = """
import os, time
children = []
for _ in range(6):
    pid = os.fork()
    if pid == 0:
        block = b'x' * (700 << 20)
        time.sleep(2)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
raise RuntimeError('hogged')"""
    with LowestMemory() as memory:
        report = grade_handin(make_handin("memory-hog", in_forward(hog)), CONFIG)
    limit = CONFIG.limits.memory_bytes
    print(f"host memory drop {memory.drop >> 20} MiB, cgroup peak {report.memory_peak_bytes >> 20} MiB")
    assert report.memory_peak_bytes <= limit
    # What the host lost, measured from outside (the kernel's estimate moves by a few hundred MB with
    # the page cache): unconfined, the six children took 4.2 GB.
    assert memory.drop < limit + (512 << 20)
    assert failed(report) == BATCHNORM and report.total == 15
    assert_gone(report)


def test_a_cpu_hog_of_many_processes_is_killed_near_the_limit(make_handin):
    config = replace(CONFIG, limits=replace(CONFIG.limits, cpu_seconds=4))
    hog = """
import os
for _ in range(16):
    if os.fork() == 0:
        while True:
            pass
while True:
    pass"""
    report = grade_handin(make_handin("cpu-hog", in_forward(hog)), config)
    print(f"CPU at the kill: {report.cpu_s:.2f} s of a limit of 4 s")
    assert 4 <= report.cpu_s < 4 + 0.75  # unconfined, sixteen loops used 27 to 43 CPU-s against 20
    assert "cpu" in report.kills
    messages = [result.message for result in report.tests if result.problem == "batchnorm"]
    assert all("CPU time limit of 4 s, all your processes together" in message for message in messages)
    assert_gone(report)


def test_a_process_slot_grabber_never_makes_another_students_sandbox_fail(make_handin):
    """Bursts of forks up to the limit: with RLIMIT_NPROC shared by every sandbox's uid, a sandbox
    whose launcher forked in a burst failed ("the launcher failed")."""
    grabber = """
import os, time
end = time.monotonic() + 8
while time.monotonic() < end:
    pids = []
    while True:
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(0.2)
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
raise RuntimeError('grabbed')"""
    hostile, correct = make_handin("grabber", in_forward(grabber)), make_handin("victim")
    with ThreadPoolExecutor(max_workers=5) as pool:
        grabbing = [pool.submit(grade_handin, hostile, CONFIG) for _ in range(3)]
        time.sleep(1)
        victims = [pool.submit(grade_handin, correct, CONFIG) for _ in range(16)]
        totals = [victim.result().total for victim in victims]
        held = [report.result() for report in grabbing]
    print(f"victims: {totals}")
    assert totals == [25] * 16
    for report in held:
        assert failed(report) == BATCHNORM
        assert_gone(report)


def test_a_fork_bomb_leaves_nothing_behind(make_handin):
    bomb = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass"""
    report = grade_handin(make_handin("forkbomb", in_forward(bomb)), replace(CONFIG, idle_seconds=3))
    assert failed(report) == BATCHNORM and report.total == 15
    assert_gone(report)


@pytest.mark.parametrize(
    "code", ["import os\nos.kill(os.getppid(), 9)", "import os, signal\nos.killpg(0, 9)"]
)
def test_killing_its_own_processes_leaves_nothing_behind(make_handin, code):
    report = grade_handin(make_handin("self-killer", in_forward(code)), CONFIG)
    assert failed(report) <= BATCHNORM
    assert_gone(report)


def test_what_reaches_past_the_cgroup_is_refused(make_handin):
    """Socket memory escaped the cgroup (netlink queues took 6.5 GiB of the host at a 1 GiB limit; TCP
    buffers reset the host's own connections), sessions of their own escaped the worker's scheduling
    group (58 slowed the host twentyfold), inotify instances are counted per uid on the whole host."""
    probe = """
import os, socket
outcomes = []
for family, kind in ((socket.AF_NETLINK, socket.SOCK_RAW), (socket.AF_INET, socket.SOCK_STREAM),
                     (socket.AF_INET6, socket.SOCK_DGRAM), (socket.AF_PACKET, socket.SOCK_RAW)):
    try:
        socket.socket(family, kind).close()
        outcomes.append(f"{family.name} opened")
    except OSError as error:
        outcomes.append(f"{family.name} errno {error.errno}")
a, b = socket.socketpair()  # AF_UNIX: Python itself uses it
outcomes.append("socketpair opened")
import ctypes
for name, call in (("setsid", os.setsid), ("inotify", lambda: ctypes.CDLL(None).inotify_init())):
    try:
        result = call()
        outcomes.append(f"{name} gave {result}")
    except OSError as error:
        outcomes.append(f"{name} errno {error.errno}")
raise RuntimeError("; ".join(outcomes))
"""
    report = grade_handin(make_handin("reach", {"optim/sgd.py": lambda text: probe + text}), CONFIG)
    message = next(result.message for result in report.tests if result.problem == "batchnorm")
    assert "AF_NETLINK errno 97; AF_INET errno 97; AF_INET6 errno 97; AF_PACKET errno 97" in message
    assert "socketpair opened" in message and "setsid errno 1" in message
    assert "inotify gave -1" in message  # libc's inotify_init: -1 (EMFILE), no instance made
    assert report.total == 15


def test_groups_a_dead_worker_left_behind_are_removed_when_a_worker_starts():
    cgroups = detect()
    left = cgroups.create(Limits())
    fresh = cgroups.create(Limits())
    for folder in left.folders.values():
        os.utime(folder, (time.time() - 3600, time.time() - 3600))
    assert cgroups.remove_stale() >= 1
    assert not any(folder.exists() for folder in left.folders.values())
    assert all(folder.exists() for folder in fresh.folders.values())  # a sandbox of now is left alone
    fresh.remove()
