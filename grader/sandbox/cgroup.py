"""One cgroup per sandbox: the memory, processes and CPU time of its whole process tree.

Per-process rlimits cannot bound a handin that forks: sixty processes of 900 MB each, or sixteen
busy loops, each stay under their own limit. A cgroup holds the whole tree: `memory` (without swap)
and `pids` limit it, its CPU time is read and enforced by the caller (`cpu_seconds`), and at the end
everything in it is killed and it is removed, so nothing outlives its sandbox.

Two kinds of host, behind one interface (`Cgroups.create(limits) -> Group`):
- cgroup v2: a subtree delegated to the worker (its own cgroup, e.g. from `systemd-run --scope -p
  Delegate=yes`, or a container's own /sys/fs/cgroup). The worker's processes move into a leaf of it
  (WORKER_LEAF), as the kernel's "no internal processes" rule asks, and sandboxes are made beside it.
- cgroup v1: the memory, pids and cpuacct controllers mounted at /sys/fs/cgroup/<controller>,
  writable (a root worker); sandboxes go under HW1GRADER in the worker's own group of each.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from grader.sandbox.base import Limits, SandboxUnavailable

CGROUP_ROOT = Path("/sys/fs/cgroup")
WORKER_LEAF = "hw1grader-worker"  # v2: where the worker's own processes live
HW1GRADER = "hw1grader"  # v1: the folder of our sandboxes in each controller
V1_CONTROLLERS = ("memory", "pids", "cpuacct")
KILL_TIMEOUT_S = 5.0
STALE_AFTER_S = 900  # no sandbox lives this long (its wall-clock limit is about a minute)
DELEGATION_HINT = (
    "start the worker in a delegated cgroup, e.g. `systemd-run --user --scope -p Delegate=yes celery ...`, "
    "or as root; in a container, give it its own writable cgroup (see docker-compose.yml)"
)


class CgroupUnavailable(SandboxUnavailable):
    """No cgroup can be made for a sandbox here: the worker cannot confine a handin's process tree."""


class Group:
    """One sandbox's cgroup (one folder per hierarchy: one on v2, three on v1)."""

    def __init__(self, folders: dict[str, Path], version: int):
        self.folders, self.version = folders, version
        self.procs = [folder / "cgroup.procs" for folder in dict.fromkeys(folders.values())]

    @property
    def name(self) -> str:
        return next(iter(self.folders.values())).name

    def attach(self, pid: int) -> None:
        """Moves `pid` in (the sandbox's first process, before it starts anything)."""
        for path in self.procs:
            path.write_text(str(pid))

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of every process that ever ran in the group."""
        if self.version == 2:
            return _keyed(self.folders["cpu"] / "cpu.stat").get("usage_usec", 0) / 1e6
        return int(_read(self.folders["cpuacct"] / "cpuacct.usage") or 0) / 1e9

    def memory_peak(self) -> int | None:
        """The most memory the group used at once, in bytes, where the kernel tells it."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        text = _read(self.folders["memory"] / name)
        return int(text) if text and text.isdigit() else None

    def oom_kills(self) -> int:
        """How many of its processes the kernel killed for going over the memory limit."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        return _keyed(self.folders["memory"] / name).get("oom_kill", 0)

    def pids(self) -> list[int]:
        return [int(pid) for path in self.procs for pid in (_read(path) or "").split()]

    def kill(self) -> None:
        """SIGKILLs every process in the group, until none is left (forks racing the kill included)."""
        kill_file = self.folders["pids"] / "cgroup.kill"
        if self.version == 2 and kill_file.exists():
            with contextlib.suppress(OSError):
                kill_file.write_text("1")
        give_up = time.monotonic() + KILL_TIMEOUT_S
        while (left := self.pids()) and time.monotonic() < give_up:
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)

    def remove(self) -> None:
        """Kills what is left and removes the group; it is gone once this returns."""
        self.kill()
        for folder in dict.fromkeys(self.folders.values()):
            give_up = time.monotonic() + KILL_TIMEOUT_S
            while folder.exists():
                try:
                    folder.rmdir()
                except OSError:  # EBUSY: a killed process not yet reaped
                    if time.monotonic() > give_up:
                        raise
                    time.sleep(0.01)


@dataclass(frozen=True)
class Cgroups:
    """Where this host's sandbox cgroups are made: `parents` maps each controller to its folder."""

    version: int
    parents: dict[str, Path]

    @property
    def description(self) -> str:
        if self.version == 1:
            return f"cgroup v1 ({', '.join(V1_CONTROLLERS)})"
        return f"cgroup v2 (under {self.parents['memory']})"

    def remove_stale(self) -> int:
        """Kills and removes the sandbox groups left by a worker that died before removing them (no
        sandbox outlives its wall-clock limit, so one this old is nobody's); returns how many."""
        removed = 0
        for parent in dict.fromkeys(self.parents.values()):
            for folder in parent.glob("sb-*"):
                with contextlib.suppress(OSError):
                    if time.time() - folder.stat().st_mtime > STALE_AFTER_S:
                        Group(
                            {"memory": folder, "pids": folder, "cpu": folder, "cpuacct": folder}, self.version
                        ).remove()
                        removed += 1
        return removed

    def create(self, limits: Limits) -> Group:
        """A new group limited to `limits.memory_bytes` (no swap) and `limits.processes` tasks."""
        name = f"sb-{uuid.uuid4().hex[:16]}"
        folders = {controller: parent / name for controller, parent in self.parents.items()}
        group = Group(folders, self.version)
        for folder in dict.fromkeys(folders.values()):
            folder.mkdir()
        try:
            if self.version == 2:
                _write(folders["memory"] / "memory.max", limits.memory_bytes)
                _write(folders["memory"] / "memory.swap.max", 0, optional=True)
                _write(folders["pids"] / "pids.max", limits.processes)
            else:
                _write(folders["memory"] / "memory.limit_in_bytes", limits.memory_bytes)
                _write(folders["memory"] / "memory.memsw.limit_in_bytes", limits.memory_bytes, optional=True)
                _write(folders["pids"] / "pids.max", limits.processes)
        except OSError:
            group.remove()
            raise
        return group


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _keyed(path: Path) -> dict[str, int]:
    """A flat-keyed cgroup file ("key value" lines) as a dict."""
    pairs = (line.split() for line in (_read(path) or "").splitlines())
    return {pair[0]: int(pair[1]) for pair in pairs if len(pair) == 2 and pair[1].isdigit()}


def _write(path: Path, value: int, optional: bool = False) -> None:
    if optional and not path.exists():  # no swap accounting on this kernel: no swap to limit
        return
    path.write_text(str(value))


def own_cgroups(pid: str = "self") -> dict[str, str]:
    """{controller (or "" for v2): path} of a process, from /proc/<pid>/cgroup."""
    groups: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            groups[controller] = path
    return groups


def v1_mounts() -> dict[str, Path]:
    """{controller: mount point} of the cgroup v1 hierarchies, from /proc/self/mountinfo."""
    mounts: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, rest = line.partition(" - ")
        fstype, _, options = rest.split(" ", 2)
        if fstype == "cgroup":
            root, mount_point = fields.split()[3:5]
            for option in options.split(","):
                if root == "/":
                    mounts.setdefault(option, Path(mount_point))
    return mounts


def detect(root: Path = CGROUP_ROOT) -> Cgroups:
    """This host's cgroups for sandboxes, prepared once per process; CgroupUnavailable (saying what
    to do) if the worker cannot make them."""
    if (root / "cgroup.controllers").exists():
        return _prepare_v2(root)
    return _prepare_v1()


@cache
def _prepare_v2(root: Path) -> Cgroups:
    own = own_cgroups()[""].lstrip("/")
    base = root / own
    if base.name == WORKER_LEAF:  # prepared already, by this process or its parent
        base = base.parent
    available = set((_read(base / "cgroup.controllers") or "").split())
    if not {"memory", "pids"} <= available:
        raise CgroupUnavailable(
            f"cgroup v2 at {base} offers the controllers {sorted(available)}, not memory and pids: "
            + DELEGATION_HINT
        )
    try:
        enabled = set((_read(base / "cgroup.subtree_control") or "").split())
        if not {"memory", "pids"} <= enabled:
            leaf = base / WORKER_LEAF
            leaf.mkdir(exist_ok=True)
            for _ in range(10):  # processes started meanwhile are in base too: move them as well
                for pid in (_read(base / "cgroup.procs") or "").split():
                    with contextlib.suppress(ProcessLookupError):
                        (leaf / "cgroup.procs").write_text(pid)
                try:
                    (base / "cgroup.subtree_control").write_text("+memory +pids")
                    break
                except OSError as error:
                    if error.errno != 16:  # EBUSY: a process is left in base
                        raise
        cgroups = Cgroups(2, {"memory": base, "pids": base, "cpu": base})
        cgroups.create(Limits()).remove()
    except OSError as error:
        raise CgroupUnavailable(f"cannot make cgroups under {base} ({error}): {DELEGATION_HINT}") from None
    cgroups.remove_stale()
    return cgroups


@cache
def _prepare_v1() -> Cgroups:
    mounts, own = v1_mounts(), own_cgroups()
    missing = [controller for controller in V1_CONTROLLERS if controller not in mounts]
    if missing:
        raise CgroupUnavailable(
            f"no cgroup v2 at {CGROUP_ROOT} and no cgroup v1 {', '.join(missing)} controller: "
            "the worker cannot limit a handin's whole process tree"
        )
    parents = {
        controller: mounts[controller] / own.get(controller, "/").lstrip("/") / HW1GRADER
        for controller in V1_CONTROLLERS
    }
    try:
        for parent in parents.values():
            parent.mkdir(exist_ok=True)
        cgroups = Cgroups(1, parents)
        cgroups.create(Limits()).remove()
    except OSError as error:
        raise CgroupUnavailable(
            f"cannot make cgroup v1 groups under {parents['memory'].parent} ({error}): run the worker as "
            "root, or on a host with cgroup v2 and a delegated subtree"
        ) from None
    cgroups.remove_stale()
    return cgroups
