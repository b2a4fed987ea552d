"""The sandbox interface and its backends, on small programs (the grading tests use real handins)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from grader.sandbox import Limits, Mount, get_sandbox
from grader.sandbox.docker import build_docker_command

PYTHON = "/usr/bin/python3.11"


@pytest.fixture
def job():
    """A folder the unprivileged sandbox user can read (pytest's own tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="sandbox-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def run(job: Path, code: str, backend: str = "bwrap", **limits):
    (job / "program.py").write_text(code)
    return get_sandbox(backend).run(
        [PYTHON, "/job/program.py"],
        mounts=[Mount(job, "/job")],
        limits=Limits(**{"wall_seconds": 10, **limits}),
        env={"ONLY": "this"},
        cwd="/job",
    )


def test_results_channel_stdout_and_stderr_come_back_separately(job):
    result = run(job, "import os, sys\nos.write(3, b'numbers')\nprint('out')\nprint('err', file=sys.stderr)")
    assert (result.result, result.stdout, result.stderr) == (b"numbers", b"out\n", b"err\n")
    assert result.exit_code == 0 and result.killed_reason is None and result.backend == "bwrap"


def test_output_is_capped_and_the_run_still_finishes(job):
    result = run(job, "import sys\nfor _ in range(200): sys.stdout.write('x' * 65536)", output_bytes=1000)
    assert len(result.stdout) == 1000 and result.stdout_truncated and result.exit_code == 0


def test_infinite_loop_is_killed_at_the_wall_clock(job):
    started = time.monotonic()
    result = run(job, "while True: pass", wall_seconds=1.5, cpu_seconds=60)
    assert result.killed_reason == "wall-clock"
    assert time.monotonic() - started < 4


def test_cpu_limit_ends_the_run(job):
    result = run(job, "while True: pass", cpu_seconds=1, wall_seconds=20)
    assert result.killed_reason == "cpu" and result.cpu_seconds >= 0.9


def test_only_the_mounts_and_usr_are_visible_and_read_only(job):
    code = (
        "import os\nfor path in ('/etc/passwd', '/root', '/work', '/home', '/var'):\n"
        "    print(path, os.path.exists(path))\n"
        "try:\n    open('/job/new', 'w')\nexcept OSError as e:\n    print('job', e.errno)\n"
        "print(os.getuid(), sorted(os.environ))"
    )
    result = run(job, code)
    lines = result.stdout.decode().splitlines()
    assert lines[:5] == [f"{path} False" for path in ("/etc/passwd", "/root", "/work", "/home", "/var")]
    assert lines[5] == "job 30"  # EROFS
    uid, names = lines[6].split(" ", 1)
    assert uid == "65534"
    assert set(eval(names)) <= {"ONLY", "PWD", "LC_CTYPE"}  # nothing of the worker's environment


def test_network_is_not_reachable(job):
    result = run(
        job,
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 6379), 2)\n"
        "    print('connected')\nexcept OSError as e:\n    print('refused', e.errno)",
    )
    assert result.stdout.startswith(b"refused")


def test_scratch_space_is_small_and_file_size_is_limited(job):
    code = (
        "try:\n    open('/tmp/big', 'wb').write(b'0' * (8 << 20))\nexcept OSError as e:\n    print(e.errno)"
    )
    assert run(job, code, scratch_bytes=1 << 20).stdout.strip() in (b"28", b"27")  # ENOSPC or EFBIG


def test_result_channel_over_its_limit_kills_the_run(job):
    result = run(job, "import os\nwhile True: os.write(3, b'0' * 65536)", result_bytes=1 << 20)
    assert result.killed_reason == "result-too-large" and len(result.result) == 1 << 20


def test_unsafe_process_translates_paths_and_warns_every_time(job, caplog):
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        result = run(job, "import os\nos.write(3, os.getcwd().encode())", backend="unsafe-process")
        assert result.result == str(job).encode()
    warnings = [r for r in caplog.records if "unsafe-process" in r.getMessage()]
    assert len(warnings) == 2


def test_docker_command_carries_every_limit():
    limits = Limits(
        processes=32,
        memory_bytes=1 << 29,
        cpu_seconds=7,
        file_size_bytes=1000,
        open_files=50,
        scratch_bytes=4096,
    )
    command = build_docker_command(
        "docker",
        "img:1",
        "job-1",
        ["/runtime/bin/python", "h.py"],
        [Mount(Path("/srv/sub"), "/submission")],
        limits,
        {"A": "b"},
        "/submission",
    )
    text = " ".join(command)
    for flag in (
        "--network none",
        "--read-only",
        "--cap-drop ALL",
        "--security-opt no-new-privileges",
        "--pids-limit 32",
        f"--memory {1 << 29}",
        f"--memory-swap {1 << 29}",
        "--ulimit cpu=7:7",
        "--ulimit fsize=1000:1000",
        "--ulimit nofile=50:50",
        "--user 65534:65534",
        "--tmpfs /tmp:rw,nosuid,nodev,size=4096",
        "-v /srv/sub:/submission:ro",
        "-e A=b",
        "-w /submission",
        "--name job-1",
    ):
        assert flag in text, flag
    assert command[-7:] == [
        "img:1",
        "/bin/sh",
        "-c",
        'exec "$@" 3>&1 1>&2',
        "sh",
        "/runtime/bin/python",
        "h.py",
    ]


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown sandbox"):
        get_sandbox("chroot")


def test_parent_survives_a_kill_attempt_from_inside(job):
    result = run(
        job,
        "import os, signal\nfor pid in (os.getppid(), 0, -1, 1):\n    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\nprint('done')",
    )
    assert os.getpid() > 0 and result.stdout in (b"done\n", b"")
