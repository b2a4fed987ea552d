"""Running the real service for tests: a migrated database, uvicorn and Celery worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(env: dict[str, str], *args: str) -> str:
    """`python -m api ...` with the given environment; returns stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "api", *args],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [str(BIN / "alembic"), "upgrade", "head"],
        env=env,
        cwd=PROJECT,
        check=True,
        timeout=120,
        capture_output=True,
    )


@dataclass
class Service:
    url: str
    env: dict[str, str]
    processes: dict[str, subprocess.Popen]
    log_dir: Path

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def start_worker(
        self, name: str = "worker", concurrency: int = 2, sweeper: bool = False, queue: str | None = None
    ) -> subprocess.Popen:
        """A worker of grading and similarity jobs (or of `queue` alone), or (`sweeper`) the sweeper:
        its own queue, one process, beat inside."""
        log = (self.log_dir / f"{name}.log").open("ab")
        options = (
            ["-Q", self.env.get("SWEEPER_QUEUE", "sweeper"), "--pool", "solo", "--beat"]
            + ["--schedule", str(self.log_dir / f"{name}-schedule")]
            if sweeper
            else [f"--concurrency={concurrency}"] + (["-Q", queue] if queue else [])
        )
        process = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "worker.celery_app",
                "worker",
                "--loglevel=INFO",
                *options,
                "-n",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            env=self.env,
            cwd=PROJECT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def wait_graded(self, client: httpx.Client, submission_id: int, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = client.get(f"/api/v1/submissions/{submission_id}").json()
            if body["status"] in ("graded", "error"):
                return body
            time.sleep(0.5)
        raise AssertionError(f"submission {submission_id} not graded in {timeout} s; logs in {self.log_dir}")


@contextlib.contextmanager
def running_service(
    env: dict[str, str], log_dir: Path, worker: bool = True, api_workers: int = 1
) -> Iterator[Service]:
    """Migrates, then runs uvicorn (with `api_workers` processes, and a worker) until the block ends."""
    migrate(env)
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    service = Service(f"http://127.0.0.1:{port}", env, {}, log_dir)
    api_log = (log_dir / "api.log").open("ab")
    service.processes["api"] = subprocess.Popen(
        [sys.executable, "-m", "api", "serve", "--port", str(port), "--workers", str(api_workers)],
        env=env,
        cwd=PROJECT,
        stdout=api_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    if worker:
        service.start_worker()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(service.url + "/openapi.json", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or service.processes["api"].poll() is not None:
                    raise AssertionError((log_dir / "api.log").read_text()) from None
                time.sleep(0.2)
        yield service
    finally:
        for name in list(service.processes):
            service.stop(name)
