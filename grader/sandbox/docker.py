"""Containers: the same limits through `docker run`, for deployments that grade in containers."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import uuid

from grader.sandbox.base import Confinement, Limits, Mount, RunResult, SandboxUnavailable, check_request
from grader.sandbox.process import CPU_HARD_GRACE_S, kill_group, run_process, signal_from_exit_code

# Inside the container, fd 3 (the results) becomes stdout and the program's stdout joins stderr.
RESULT_SHIM = ["/bin/sh", "-c", 'exec "$@" 3>&1 1>&2', "sh"]
SANDBOX_USER = "65534:65534"


def build_docker_command(
    docker: str,
    image: str,
    name: str,
    argv: list[str],
    mounts: list[Mount],
    limits: Limits,
    env: dict[str, str],
    cwd: str,
) -> list[str]:
    """The `docker run` command line (pure: no engine needed to test it)."""
    command = [
        docker,
        "run",
        "--rm",
        "-i",
        "--name",
        name,
        "--network",
        "none",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--pids-limit",
        str(limits.processes),
        "--memory",
        str(limits.memory_bytes),
        "--memory-swap",
        str(limits.memory_bytes),  # equal to --memory: no swap
        "--cpus",
        "1",
        "--ulimit",
        f"cpu={limits.cpu_seconds}:{limits.cpu_seconds + CPU_HARD_GRACE_S}",
        "--ulimit",
        f"fsize={limits.file_size_bytes}:{limits.file_size_bytes}",
        "--ulimit",
        f"nofile={limits.open_files}:{limits.open_files}",
        "--ulimit",
        "core=0:0",
        "--user",
        SANDBOX_USER,
        "--tmpfs",
        f"/tmp:rw,nosuid,nodev,size={limits.scratch_bytes}",
    ]
    for mount in mounts:
        source = str(mount.source)
        if ":" in source or ":" in mount.target:
            raise ValueError(f"docker -v cannot mount a path with ':' ({source} -> {mount.target})")
        command += ["-v", f"{source}:{mount.target}:ro"]
    command += ["-w", cwd]
    for key, value in env.items():
        command += ["-e", f"{key}={value}"]
    return [*command, image, *RESULT_SHIM, *argv]


class DockerSandbox:
    """One throwaway container per run; the engine enforces the limits (cgroups, no network)."""

    name = "docker"

    def __init__(self, image: str = "hw1-bonus-runtime:latest", docker_path: str | None = None):
        self.image = image
        self.docker = docker_path if docker_path is not None else (shutil.which("docker") or "docker")

    def check(self) -> Confinement:
        if shutil.which(self.docker) is None:
            raise SandboxUnavailable(f"docker is not installed ({self.docker}): install Docker or use bwrap")
        return Confinement(f"docker containers of {self.image} (the engine's cgroup limits)", full=True)

    def run(
        self, argv: list[str], *, mounts: list[Mount], limits: Limits, env: dict[str, str], cwd: str
    ) -> RunResult:
        check_request(argv, mounts, env, cwd)
        self.check()
        name = f"hw1grader-{uuid.uuid4().hex[:12]}"
        command = build_docker_command(self.docker, self.image, name, argv, mounts, limits, env, cwd)

        def terminate(client: subprocess.Popen) -> None:
            # Killing the client would leave the container running: stop the container itself.
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run([self.docker, "kill", name], capture_output=True, timeout=30)
            kill_group(client)

        # The limits bind the container; the client is ours and runs unlimited but for core dumps.
        result = run_process(
            command,
            env=dict(os.environ),  # DOCKER_HOST, DOCKER_CONFIG, HOME reach the client, not the container
            cwd="/",
            limits=limits,
            backend=self.name,
            rlimit_table={resource.RLIMIT_CORE: (0, 0)},
            results_on_stdout=True,
            terminate=terminate,
        )
        signal_from_exit_code(result)
        # A SIGKILL may be the CPU hard limit or the memory cgroup: only SIGXCPU names the cause.
        if result.killed_reason is None and result.signal == signal.SIGXCPU:
            result.killed_reason = "cpu"
        # cpu_seconds is the client's own: the container's processes are not our children.
        return result
