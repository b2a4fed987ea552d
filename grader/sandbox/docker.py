"""Containers: the same limits through `docker run`, for deployments that grade in containers."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from dataclasses import replace

from grader.sandbox.base import Limits, Mount, RunResult, SandboxUnavailable
from grader.sandbox.process import cpu_killed, run_process

# Inside the container, fd 3 (the results) becomes stdout and the program's stdout joins stderr.
RESULT_SHIM = ["/bin/sh", "-c", 'exec "$@" 3>&1 1>&2', "sh"]


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
        str(limits.memory_bytes),
        "--cpus",
        "1",
        "--ulimit",
        f"cpu={limits.cpu_seconds}:{limits.cpu_seconds}",
        "--ulimit",
        f"fsize={limits.file_size_bytes}:{limits.file_size_bytes}",
        "--ulimit",
        f"nofile={limits.open_files}:{limits.open_files}",
        "--user",
        "65534:65534",
        "--tmpfs",
        f"/tmp:rw,nosuid,nodev,size={limits.scratch_bytes}",
    ]
    for mount in mounts:
        command += ["-v", f"{mount.source}:{mount.target}:ro"]
    for key, value in env.items():
        command += ["-e", f"{key}={value}"]
    return [*command, "-w", cwd, image, *RESULT_SHIM, *argv]


class DockerSandbox:
    name = "docker"

    def __init__(self, image: str = "hw1-bonus-runtime:latest", docker_path: str | None = None):
        self.image = image
        self.docker = docker_path or shutil.which("docker") or "docker"

    def run(
        self, argv: list[str], *, mounts: list[Mount], limits: Limits, env: dict[str, str], cwd: str
    ) -> RunResult:
        if shutil.which(self.docker) is None:
            raise SandboxUnavailable(f"docker is not installed ({self.docker})")
        name = f"hw1grader-{uuid.uuid4().hex[:12]}"
        command = build_docker_command(self.docker, self.image, name, argv, mounts, limits, env, cwd)
        # The limits bind the container; the docker client itself only needs room for the results on stdout.
        client_limits = replace(
            limits, output_bytes=limits.result_bytes, memory_bytes=4 << 30, processes=4096, cpu_seconds=3600
        )
        result = run_process(
            command, env={"PATH": "/usr/bin:/bin"}, cwd="/", limits=client_limits, backend=self.name
        )
        # Containers report results on stdout (see RESULT_SHIM).
        result.result, result.stdout = result.stdout, b""
        result.stderr_truncated = result.stderr_truncated or len(result.stderr) > limits.output_bytes
        result.stderr = result.stderr[: limits.output_bytes]
        if result.killed_reason is not None:
            subprocess.run([self.docker, "kill", name], capture_output=True, timeout=30)
        if result.killed_reason is None and cpu_killed(result, limits):
            result.killed_reason = "cpu"
        return result
