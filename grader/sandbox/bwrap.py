"""The default backend: bubblewrap namespaces, a minimal read-only view of the host, rlimits."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from grader.sandbox import seccomp
from grader.sandbox.base import Confinement, Limits, Mount, RunResult, SandboxUnavailable, check_request
from grader.sandbox.cgroup import Cgroups, CgroupUnavailable, detect
from grader.sandbox.process import (
    child_pids,
    kill_group,
    mark_cpu_kill,
    nproc_limit,
    rlimits,
    run_process,
    signal_from_exit_code,
)

SANDBOX_UID = 65534  # "nobody", inside the sandbox and (for root workers) on the host
SYSTEM_DIRS = ("/bin", "/lib", "/lib64", "/sbin")
# /dev with the harmless devices only: no /dev/tty, no ptys. The sandbox stays in the worker's
# session (see run_process), so the worker's terminal, if it has one, must be out of reach.
DEVICES = (
    "--tmpfs",
    "/dev",
    *(
        arg
        for device in ("null", "zero", "full", "random", "urandom")
        for arg in ("--dev-bind", f"/dev/{device}", f"/dev/{device}")
    ),
    "--symlink",
    "/proc/self/fd",
    "/dev/fd",
    *(
        arg
        for fd, name in enumerate(("stdin", "stdout", "stderr"))
        for arg in ("--symlink", f"/proc/self/fd/{fd}", f"/dev/{name}")
    ),
)
KILL_TREE_S = 0.5  # how long a kill may spend on the processes besides the program
INSTALL_HINT = (
    "install it (apt-get install bubblewrap) and enable unprivileged user namespaces "
    "(sysctl -w kernel.unprivileged_userns_clone=1 user.max_user_namespaces=15000; on Ubuntu 24.04 also "
    "kernel.apparmor_restrict_unprivileged_userns=0; in a container: --security-opt seccomp=unconfined)"
)


def build_bwrap_command(
    bwrap: str,
    argv: list[str],
    mounts: list[Mount],
    limits: Limits,
    env: dict[str, str],
    cwd: str,
    *,
    disable_userns: bool = True,
    seccomp_fd: int | None = None,
) -> list[str]:
    """The bwrap command line: nothing of the host is visible but /usr and the given read-only mounts.

    Only /tmp (a tmpfs of `scratch_bytes`) is writable: bwrap's own root and /dev are tmpfs without a
    size limit, so they are remounted read-only last, or files there could fill the host's memory.
    """
    # --as-pid-1: the program is the namespace's init, so its CPU time reaches our wait4 through bwrap,
    # and its exit takes every process it left behind down with it.
    command = [
        bwrap,
        "--unshare-all",
        "--unshare-user",  # explicit: a setuid bwrap would otherwise skip the user namespace
        *(["--disable-userns"] if disable_userns else []),  # no nested namespaces for the program
        *(["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else []),  # see seccomp.py
        "--die-with-parent",
        "--as-pid-1",
        "--clearenv",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--hostname",
        "sandbox",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):  # merged /usr: /lib -> usr/lib
            command += ["--symlink", os.readlink(folder), folder]
        else:
            command += ["--ro-bind-try", folder, folder]
    command += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    command += ["--proc", "/proc", *DEVICES, "--size", str(limits.scratch_bytes), "--tmpfs", "/tmp"]
    for mount in mounts:
        command += ["--ro-bind", str(mount.source), mount.target]
    for key, value in env.items():
        command += ["--setenv", key, value]
    # /proc too: the program shares the worker's session, whose scheduling priority is written there.
    command += ["--remount-ro", "/dev", "--remount-ro", "/proc", "--remount-ro", "/"]
    return [*command, "--chdir", cwd, "--", *argv]


class BwrapSandbox:
    """Student code in fresh user/pid/net/ipc/uts/cgroup namespaces as uid 65534, in a cgroup of its
    own (memory, processes and CPU of the whole tree), rlimited."""

    name = "bwrap"

    def __init__(
        self,
        bwrap_path: str | None = None,
        host_uid: int = SANDBOX_UID,
        host_gid: int | None = None,
        weak: bool = False,
        cgroup: bool = True,
    ):
        self.bwrap = bwrap_path if bwrap_path is not None else shutil.which("bwrap")
        self.host_uid = host_uid
        self.host_gid = host_uid if host_gid is None else host_gid
        self.weak = weak or not cgroup  # without a cgroup, rlimits only: a laptop demo's choice
        self.cgroup = cgroup  # False: none even where one can be made (bench/grade_overhead.py)

    def check(self) -> Confinement:
        check_available(self.bwrap, self._user())
        cgroups = self._cgroups()
        if cgroups is None:
            return Confinement("bwrap without a cgroup (weak: rlimits per process only)", full=False)
        return Confinement(f"bwrap in {cgroups.description}", full=True)

    def _user(self) -> tuple[int, int] | None:
        # RLIMIT_NPROC does not bind root: a root worker starts bwrap as an unprivileged host uid.
        return (self.host_uid, self.host_gid) if os.geteuid() == 0 else None

    def _cgroups(self) -> Cgroups | None:
        if not self.cgroup:
            return None
        try:
            return detect()
        except CgroupUnavailable:
            if self.weak:
                return None
            raise

    def run(
        self, argv: list[str], *, mounts: list[Mount], limits: Limits, env: dict[str, str], cwd: str
    ) -> RunResult:
        check_request(argv, mounts, env, cwd)
        user = self._user()
        disable_userns = check_available(self.bwrap, user)
        cgroups = self._cgroups()
        try:
            cgroup = cgroups.create(limits) if cgroups is not None else None
        except OSError as error:
            raise SandboxUnavailable(f"cannot make the sandbox's cgroup: {error}") from error
        filter_fd = seccomp_filter()
        command = build_bwrap_command(
            self.bwrap, argv, mounts, limits, env, cwd, disable_userns=disable_userns, seccomp_fd=filter_fd
        )
        try:
            result = run_process(
                command,
                env={},
                cwd="/",
                limits=limits,
                backend=self.name,
                rlimit_table=rlimits(limits, nproc_limit(user[0] if user else os.getuid(), limits, cgroup)),
                user=user,
                # With a cgroup, its kill takes the whole tree and its counter keeps the CPU time.
                terminate=kill_sandbox if cgroup is None else kill_group,
                new_session=False,  # one scheduling group with the worker; DEVICES keeps the terminal out
                cgroup=cgroup,
                pass_fds=(filter_fd,),
            )
        finally:
            os.close(filter_fd)
            if cgroup is not None:
                cgroup.remove()
        signal_from_exit_code(result)
        mark_cpu_kill(result, limits)
        return result


def seccomp_filter() -> int:
    """A descriptor (above the results channel's number) from which bwrap reads the seccomp filter."""
    memory = os.memfd_create("hw1grader-seccomp", os.MFD_CLOEXEC)
    try:
        os.write(memory, seccomp.program())
        os.lseek(memory, 0, os.SEEK_SET)
        return fcntl.fcntl(memory, fcntl.F_DUPFD_CLOEXEC, 10)
    finally:
        os.close(memory)


def kill_sandbox(process: subprocess.Popen) -> None:
    """Kills the sandbox so that wait4 still reports the CPU time of the whole tree.

    The kernel discards the times of processes it kills when a pid namespace's init dies, so every
    other process in the namespace is killed first (they stay zombies of the program, pid 1, which
    the kernel then reaps with their times), then the program; bwrap reaps it and exits normally.
    """
    children = child_pids(process.pid)
    if not children:  # bwrap has not cloned yet
        kill_group(process)
        return
    init = children[0]
    with contextlib.suppress(OSError):
        namespace = os.readlink(f"/proc/{init}/ns/pid")
        give_up = time.monotonic() + KILL_TREE_S
        while time.monotonic() < give_up:
            members = [pid for pid in _living_in(namespace) if pid != init]
            if not members:
                break
            for pid in members:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(init, signal.SIGKILL)


def _living_in(namespace: str) -> list[int]:
    """Host pids of the processes in pid namespace `namespace` that are not yet zombies."""
    members = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                if os.readlink(f"/proc/{entry.name}/ns/pid") != namespace:
                    continue
                stat = Path(f"/proc/{entry.name}/stat").read_bytes()
                if stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] not in (b"Z", b"X"):
                    members.append(int(entry.name))
    return members


_checked: dict[tuple[str | None, tuple[int, int] | None], bool | str] = {}
_check_lock = threading.Lock()


def check_available(bwrap: str | None, user: tuple[int, int] | None) -> bool:
    """Fails clearly (SandboxUnavailable) if bwrap is missing or cannot create its namespaces here.

    Probes once per (bwrap, uid) with a tiny `true` run and caches the answer, failures included.
    Returns whether this bwrap supports --disable-userns (0.8 and later).
    """
    key = (bwrap, user)
    with _check_lock:
        if key not in _checked:
            _checked[key] = _probe(bwrap, user)
        answer = _checked[key]
    if isinstance(answer, str):
        raise SandboxUnavailable(answer)
    return answer


def _probe(bwrap: str | None, user: tuple[int, int] | None) -> bool | str:
    if bwrap is None or not Path(bwrap).is_file():
        return f"bubblewrap not found ({bwrap or 'bwrap is not on PATH'}): {INSTALL_HINT}"
    try:
        usage = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=30)
    except OSError as error:
        return f"bubblewrap cannot be run ({bwrap}: {error}): {INSTALL_HINT}"
    disable_userns = "--disable-userns" in usage.stdout + usage.stderr
    limits = Limits(wall_seconds=30)
    command = build_bwrap_command(
        bwrap, ["/usr/bin/true"], [], limits, {}, "/", disable_userns=disable_userns
    )
    probe = run_process(command, env={}, cwd="/", limits=limits, backend="bwrap", rlimit_table={}, user=user)
    if probe.exit_code != 0:
        detail = probe.stderr.decode(errors="replace").strip() or f"exit status {probe.exit_code}"
        return f"bubblewrap cannot create a sandbox here ({detail}): {INSTALL_HINT}"
    return disable_userns
