"""The default backend: bubblewrap namespaces, a minimal read-only view of the host, rlimits."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

from grader.sandbox.base import Limits, Mount, RunResult, SandboxUnavailable
from grader.sandbox.process import count_processes, cpu_killed, run_process

SANDBOX_UID = 65534  # "nobody" inside the sandbox
SYSTEM_DIRS = ("/bin", "/lib", "/lib64", "/sbin")


def build_bwrap_command(
    bwrap: str, argv: list[str], mounts: list[Mount], limits: Limits, env: dict[str, str], cwd: str
) -> list[str]:
    """The bwrap command line: nothing of the host is visible but /usr and the given read-only mounts."""
    # --as-pid-1: the program is the namespace's init, so its CPU time reaches our wait4 and its exit
    # takes every process it left behind down with it.
    command = [
        bwrap,
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
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
    command += [
        "--ro-bind-try",
        "/etc/ld.so.cache",
        "/etc/ld.so.cache",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(limits.scratch_bytes),
        "--tmpfs",
        "/tmp",
    ]
    for mount in mounts:
        command += ["--ro-bind", str(mount.source), mount.target]
    for key, value in env.items():
        command += ["--setenv", key, value]
    return [*command, "--chdir", cwd, "--", *argv]


class BwrapSandbox:
    name = "bwrap"

    def __init__(self, bwrap_path: str | None = None, host_uid: int = SANDBOX_UID):
        self.bwrap = bwrap_path or shutil.which("bwrap") or "/usr/bin/bwrap"
        # RLIMIT_NPROC does not bind root: a root worker runs the sandbox as an unprivileged host uid.
        self.user = host_uid if os.geteuid() == 0 else None

    def run(
        self, argv: list[str], *, mounts: list[Mount], limits: Limits, env: dict[str, str], cwd: str
    ) -> RunResult:
        check_available(self.bwrap, self.user)
        nproc = (
            limits.processes if self.user is not None else count_processes(os.geteuid()) + limits.processes
        )
        command = build_bwrap_command(self.bwrap, argv, mounts, limits, env, cwd)
        result = run_process(
            command, env={}, cwd="/", limits=limits, backend=self.name, user=self.user, nproc=nproc
        )
        if result.exit_code is not None and result.exit_code > 128 and result.killed_reason is None:
            result.signal, result.exit_code = result.exit_code - 128, None  # bwrap reports a killed child so
        if result.killed_reason is None and cpu_killed(result, limits):
            result.killed_reason = "cpu"
        return result


@cache
def check_available(bwrap: str, user: int | None) -> None:
    """Fails once, clearly, if bwrap is missing or cannot create its namespaces here."""
    if not Path(bwrap).exists():
        raise SandboxUnavailable(
            f"bubblewrap is not installed ({bwrap} not found): apt-get install bubblewrap"
        )
    command = build_bwrap_command(bwrap, ["/usr/bin/true"], [], Limits(), {}, "/")
    probe = subprocess.run(command, capture_output=True, text=True, user=user, group=user, timeout=30)
    if probe.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap cannot create a sandbox here: {probe.stderr.strip()} "
            "(user namespaces must be enabled: sysctl kernel.unprivileged_userns_clone=1)"
        )
