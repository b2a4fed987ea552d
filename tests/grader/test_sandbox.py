"""The sandbox against hostile programs: isolation, limits, kills, and the three backends' plumbing."""

from __future__ import annotations

import errno
import json
import logging
import os
import pty
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from grader.sandbox import Limits, Mount, RunResult, SandboxUnavailable, get_sandbox
from grader.sandbox.docker import build_docker_command
from grader.sandbox.process import task_count
from grader.sandbox.unsafe import WARNING

PYTHON = "/usr/bin/python3.11"  # the host's interpreter, visible inside through the read-only /usr
NOBODY = 65534


@pytest.fixture
def job():
    """A folder the sandbox user can read: a root worker starts bwrap as uid 65534, and pytest's
    tmp_path lies under a root-only (0700) folder, so it would not be mountable."""
    folder = Path(tempfile.mkdtemp(prefix="sandbox-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def run(
    job: Path, code: str, backend: str = "bwrap", env: dict[str, str] | None = None, name: str = "", **limits
) -> RunResult:
    """Runs `code` as /job/program-<name or unique>.py with `limits` (wall clock 10 s unless given)."""
    script = job / f"program-{name or uuid.uuid4().hex}.py"
    script.write_text(code)
    script.chmod(0o644)
    return get_sandbox(backend).run(
        [PYTHON, f"/job/{script.name}"],
        mounts=[Mount(job, "/job")],
        limits=Limits(**{"wall_seconds": 10, **limits}),
        env={"ONLY": "this"} if env is None else env,
        cwd="/job",
    )


def sandbox_processes(marker: str) -> list[int]:
    """Host pids of processes whose command line mentions `marker` (their program's unique name)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry.name}/cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_results_come_back_through_fd_3_apart_from_stdout_and_stderr(job):
    result = run(job, "import os, sys\nos.write(3, b'numbers')\nprint('out')\nprint('err', file=sys.stderr)")
    assert (result.result, result.stdout, result.stderr) == (b"numbers", b"out\n", b"err\n")
    assert (result.exit_code, result.signal, result.killed_reason) == (0, None, None)
    assert result.backend == "bwrap" and not result.stdout_truncated and not result.stderr_truncated


def test_ten_megabytes_of_output_are_capped_drained_and_finish_quickly(job):
    started = time.monotonic()
    result = run(
        job,
        "import sys\nblock = 'x' * (1 << 20)\nfor _ in range(10):\n"
        "    sys.stdout.write(block)\n    sys.stderr.write(block)\nsys.stdout.flush()",
    )
    assert time.monotonic() - started < 5
    assert result.exit_code == 0 and result.killed_reason is None
    assert len(result.stdout) == len(result.stderr) == Limits().output_bytes
    assert result.stdout_truncated and result.stderr_truncated


def test_results_over_their_limit_kill_the_run(job):
    result = run(job, "import os\nwhile True: os.write(3, b'0' * 65536)", result_bytes=1 << 20)
    assert result.killed_reason == "result-too-large" and len(result.result) == 1 << 20


def test_infinite_loop_is_killed_at_the_wall_clock_with_its_cpu_time_reported(job):
    started = time.monotonic()
    result = run(job, "while True: pass", wall_seconds=2, cpu_seconds=60)
    elapsed = time.monotonic() - started
    assert result.killed_reason == "wall-clock" and result.signal == 9 and result.exit_code is None
    assert 2 <= elapsed < 3.5
    assert result.cpu_seconds > 0.5  # the kill lets bwrap reap the tree, so wait4 still sees its CPU time


def test_cpu_limit_kills_the_run_with_reason_cpu(job):
    started = time.monotonic()
    result = run(job, "while True: pass", cpu_seconds=1, wall_seconds=20)
    assert result.killed_reason == "cpu" and result.cpu_seconds >= 0.9
    assert time.monotonic() - started < 5


def test_a_process_over_its_cpu_rlimit_is_stopped_by_sigxcpu_which_names_the_cpu_limit(job):
    """The rlimit, the second fence, fires on the kernel's tick count, which may run ahead of the CPU
    time reported (a SIGKILL at the limit came with 0.4 s less than it, and was taken for another
    kill): SIGXCPU says which limit it was. Without a cgroup, whose kill would race it."""
    code = (
        "import os\npid = os.fork()\nif pid == 0:\n    while True: pass\n"
        "_, status = os.waitpid(pid, 0)\nos.write(3, str(os.WTERMSIG(status)).encode())"
    )
    result = run(job, code, backend="unsafe-process", cpu_seconds=1, wall_seconds=20)
    assert int(result.result) == signal.SIGXCPU


def test_cpu_time_of_concurrent_runs_in_threads_does_not_mix(job):
    results: dict[str, RunResult] = {}
    programs = {
        "busy": "import time\nend = time.time() + 1\nwhile time.time() < end: pass",
        "idle": "import time\ntime.sleep(1)",
    }
    threads = [
        threading.Thread(target=lambda name=name, code=code: results.__setitem__(name, run(job, code)))
        for name, code in programs.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results["busy"].cpu_seconds > 0.5
    assert results["idle"].cpu_seconds < 0.3


def test_rlimits_hold_inside_and_never_leak_into_the_parent(job):
    before = {kind: resource.getrlimit(kind) for kind in (resource.RLIMIT_AS, resource.RLIMIT_NPROC)}
    limits = {"cpu_seconds": 7, "memory_bytes": 1 << 29, "file_size_bytes": 1 << 20, "open_files": 50}
    code = (
        "import os, json, resource\nnames = ['CPU', 'AS', 'FSIZE', 'NOFILE', 'CORE', 'NPROC']\n"
        "limits = {n: resource.getrlimit(getattr(resource, 'RLIMIT_' + n)) for n in names}\n"
        "os.write(3, json.dumps(limits).encode())"
    )
    inside = json.loads(run(job, code, **limits).result)
    assert inside["CPU"] == [7, 8] and inside["AS"] == [1 << 29, 1 << 29]
    assert inside["FSIZE"] == [1 << 20, 1 << 20] and inside["NOFILE"] == [50, 50] and inside["CORE"] == [0, 0]
    assert Limits().processes <= inside["NPROC"][0] < 10_000
    assert {kind: resource.getrlimit(kind) for kind in before} == before


def test_a_memory_bomb_fails_inside_and_the_parent_is_unaffected(job):
    code = (
        "try:\n    block = bytearray(4 << 30)\n    print('allocated')\n"
        "except MemoryError:\n    print('MemoryError')"
    )
    result = run(job, code)
    assert result.stdout == b"MemoryError\n" and result.exit_code == 0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 2 << 20  # KiB: the parent stayed small


def test_a_fork_bomb_is_contained_and_leaves_no_process_behind(job):
    processes = 16
    tasks_before = task_count(NOBODY)
    code = (
        "import os\nwhile True:\n    try:\n        if os.fork() == 0:\n            os.write(3, b'x')\n"
        "    except OSError:\n        pass"
    )
    marker = f"fork-bomb-{uuid.uuid4().hex}"  # in the script's name: every bomb process carries it
    started = time.monotonic()
    result = run(job, code, wall_seconds=3, processes=processes, name=marker)
    assert time.monotonic() - started < 6
    assert result.killed_reason == "wall-clock" or result.exit_code != 0
    assert 0 < len(result.result) <= processes + tasks_before  # every successful fork reported one byte
    deadline = time.monotonic() + 2
    while sandbox_processes(marker) and time.monotonic() < deadline:  # a dying namespace takes a moment
        time.sleep(0.05)
    assert sandbox_processes(marker) == []


def test_a_process_left_behind_does_not_outlive_the_sandbox(job):
    marker = f"left-behind-{uuid.uuid4().hex}"
    code = (
        "import subprocess\nsubprocess.Popen(['/usr/bin/sleep', '300', '"
        + marker
        + "'], process_group=0, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\nprint('bye')"
    )
    started = time.monotonic()
    result = run(job, code)
    assert result.stdout == b"bye\n" and result.killed_reason is None
    assert time.monotonic() - started < 3
    assert sandbox_processes(marker) == []


@pytest.mark.parametrize(
    ("scratch_bytes", "file_size_bytes", "errno"),
    [(64 << 20, 4 << 20, 27), (4 << 20, 64 << 20, 28)],  # EFBIG (RLIMIT_FSIZE), ENOSPC (tmpfs full)
    ids=["file-size-limit", "scratch-full"],
)
def test_writing_ten_gigabytes_fails_and_only_tmp_is_writable(job, scratch_bytes, file_size_bytes, errno):
    code = (
        "import os\nwritten = 0\ntry:\n    with open('/tmp/big', 'wb', buffering=0) as f:\n"
        "        while written < 10 << 30:\n            written += f.write(b'0' * (1 << 20))\n"
        "except OSError as e:\n    print(e.errno, written >> 20)\n"
        "for folder in ('/', '/dev', '/usr', '/job'):\n    try:\n"
        "        open(os.path.join(folder, 'x'), 'wb')\n        print(folder, 'writable')\n"
        "    except OSError as e:\n        print(folder, e.errno)"
    )
    result = run(job, code, scratch_bytes=scratch_bytes, file_size_bytes=file_size_bytes)
    lines = result.stdout.decode().splitlines()
    error, megabytes = map(int, lines[0].split())
    assert error == errno and megabytes <= 4
    assert lines[1:] == [f"{folder} 30" for folder in ("/", "/dev", "/usr", "/job")]  # EROFS


def test_the_network_is_unreachable_inside_though_reachable_outside(job):
    listener = socket.create_server(("127.0.0.1", 0))
    ports = [listener.getsockname()[1]]
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()  # Redis runs on the host
        ports.append(6379)
    except OSError:
        pass  # no Redis here: our own listener still proves the point
    with listener:
        for port in ports:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        code = (
            "import socket\nfor port in "
            + repr(ports)
            + ":\n    try:\n        socket.create_connection(('127.0.0.1', port), 2)\n"
            "        print(port, 'connected')\n"
            "    except OSError as e:\n        print(port, 'failed', e.errno)"
        )
        result = run(job, code)
    # EAFNOSUPPORT: no socket but AF_UNIX may even be made (grader/sandbox/seccomp.py); before that
    # rule, ECONNREFUSED: the sandbox's network namespace has nothing listening.
    assert result.stdout.decode().splitlines() == [f"{port} failed 97" for port in ports]


def test_host_files_are_invisible(job):
    hidden = [
        "/etc/passwd",
        "/etc/shadow",
        "/root",
        "/work",
        "/home",
        "/var",
        "/run",
        str(Path.cwd()),
        "/sys",
    ]
    code = (
        "import os, json\nos.write(3, json.dumps({'exists': [os.path.exists(p) for p in "
        + repr(hidden)
        + "], 'root': sorted(os.listdir('/')), 'etc': os.listdir('/etc')}).encode())"
    )
    seen = json.loads(run(job, code).result)
    assert seen["exists"] == [False] * len(hidden)
    assert set(seen["root"]) <= {"bin", "dev", "etc", "job", "lib", "lib64", "proc", "sbin", "tmp", "usr"}
    assert seen["etc"] == ["ld.so.cache"]


def test_the_mounted_folder_is_read_only(job):
    code = (
        "import os\nfor attempt in (lambda: open('/job/new', 'w'), lambda: os.remove('/job/keep'),\n"
        "                lambda: os.chmod('/job', 0o777)):\n    try:\n        attempt()\n"
        "        print('allowed')\n    except OSError as e:\n        print(e.errno)"
    )
    (job / "keep").write_text("keep")
    result = run(job, code)
    assert result.stdout == b"30\n30\n30\n"  # EROFS
    assert sorted(path.name for path in job.iterdir() if not path.name.startswith("program-")) == ["keep"]


def test_killing_the_parent_or_every_process_from_inside_harms_nothing_outside(job):
    """The program shares the worker's session but not its process group: signals to "my group",
    "everyone" and the parent reach no process of the worker, only the sandbox's own bwrap."""
    bystander = subprocess.Popen(["sleep", "60"])  # in the worker's session and process group
    code = (
        "import os, signal\nprint(os.getppid(), flush=True)\nfor pid in (-1, 1, os.getppid()):\n"
        "    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError as e:\n"
        "        print(pid, e.errno, flush=True)\nprint('done', flush=True)"
    )
    try:
        result = run(job, code)
        assert bystander.poll() is None and os.getpid() > 0  # the worker's processes live on
    finally:
        bystander.kill()
        bystander.wait()
    lines = result.stdout.decode().splitlines()
    assert lines[0] == "0"  # the parent is outside the pid namespace
    assert lines[1] == "-1 3"  # ESRCH: no other process in the namespace
    assert result.signal == 9  # the last kill (pid 0: its process group) ended its own sandbox


def test_the_program_runs_as_uid_65534(job):
    result = run(job, "import os\nprint(os.getuid(), os.getgid(), os.geteuid())")
    assert result.stdout == b"65534 65534 65534\n"


def test_the_environment_is_only_what_was_passed(job, monkeypatch):
    monkeypatch.setenv("WORKER_SECRET", "must-not-leak")
    result = run(
        job, "import os, json\nos.write(3, json.dumps(dict(os.environ)).encode())", env={"ONLY": "this"}
    )
    environment = json.loads(result.result)
    assert environment.pop("ONLY") == "this"
    assert environment.pop("PWD", "/job") == "/job"  # bwrap's --chdir sets it
    assert set(environment) <= {"LC_CTYPE"}  # Python's own C-locale coercion; nothing of the worker


TERMINAL_PROBE = """
import fcntl, json, os, termios
tried = {"devices": sorted(os.listdir("/dev"))}
try:
    os.open("/dev/tty", os.O_RDWR)
    tried["tty"] = "opened"
except OSError as error:
    tried["tty"] = error.errno
for fd in range(3):
    try:
        fcntl.ioctl(fd, termios.TIOCSTI, b"x")
        tried[fd] = "injected"
    except OSError as error:
        tried[fd] = error.errno
os.write(3, json.dumps(tried).encode())
"""


def test_a_terminal_the_worker_has_is_out_of_reach(job):
    """The sandbox shares the worker's session (one scheduling group), so a worker started from a
    terminal must not hand that terminal to the program: nothing there to read or inject keys into."""
    answer = job / "answer.json"
    pid, terminal = pty.fork()  # the child leads a session whose controlling terminal is the pty
    if pid == 0:
        try:
            os.close(os.open("/dev/tty", os.O_RDWR))  # the worker has a terminal
            answer.write_bytes(run(job, TERMINAL_PROBE).result)
        finally:
            os._exit(0)
    while True:  # drain the pty until the child is gone
        try:
            if not os.read(terminal, 1024):
                break
        except OSError:
            break
    os.waitpid(pid, 0)
    os.close(terminal)
    tried = json.loads(answer.read_text())
    assert tried["tty"] == errno.ENOENT
    assert [tried[str(fd)] for fd in range(3)] == [errno.ENOTTY] * 3
    assert set(tried["devices"]) == {
        "fd",
        "full",
        "null",
        "random",
        "stderr",
        "stdin",
        "stdout",
        "urandom",
        "zero",
    }


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="the kernel has no autogroups")
def test_the_program_shares_the_scheduling_group_of_its_caller_and_cannot_change_it(job):
    """A niced worker yields the CPU to the web API only if its sandboxes are in its autogroup; and
    a program that raised that group's nice value would slow every later job of the worker. (A
    process that never left the boot session is in the root autogroup, whose file reads empty.)"""
    code = (
        "import ctypes, json\nctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # dumpable: /proc/self is its own\n"
        "group = open('/proc/self/autogroup').read()\n"
        "try:\n    open('/proc/self/autogroup', 'w').write('19')\n    refused = None\n"
        "except OSError as error:\n    refused = error.errno\n"
        "print(json.dumps([group, refused]))"
    )
    before = Path("/proc/self/autogroup").read_text()
    result = run(job, code)
    assert result.exit_code == 0, result.stderr.decode()
    assert json.loads(result.stdout) == [before, errno.EROFS]
    assert Path("/proc/self/autogroup").read_text() == before


def test_a_missing_bwrap_is_a_clear_error():
    sandbox = get_sandbox("bwrap", bwrap_path="/nonexistent/bwrap")
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        sandbox.run([PYTHON, "-c", "pass"], mounts=[], limits=Limits(), env={}, cwd="/")


def test_a_missing_mount_source_is_a_grader_error_not_a_student_failure(job):
    with pytest.raises(ValueError, match="mount source does not exist"):
        get_sandbox("bwrap").run(
            [PYTHON, "-c", "pass"], mounts=[Mount(job / "absent", "/x")], limits=Limits(), env={}, cwd="/"
        )


def test_unsafe_process_translates_paths_runs_and_warns_on_every_run(job, caplog):
    data = job / "data"
    data.mkdir()
    code = (
        "import os, sys, json\nos.write(3, json.dumps([sys.argv[1:], os.getcwd(), os.environ['DATA'], "
        "os.environ['PATH']]).encode())"
    )
    (job / "program.py").write_text(code)
    mounts = [Mount(job, "/job"), Mount(data, "/job/data")]  # the longer target wins below /job/data
    caplog.set_level(logging.WARNING, logger="grader.sandbox.unsafe")
    sandbox = get_sandbox("unsafe-process")
    for _ in range(2):
        result = sandbox.run(
            [PYTHON, "/job/program.py", "/job/data/x.npz", "/jobless", "--flag"],
            mounts=mounts,
            limits=Limits(wall_seconds=10),
            env={"DATA": "/job/data", "PATH": "/job/bin:/usr/bin"},
            cwd="/job/data",
        )
        assert result.backend == "unsafe-process" and result.exit_code == 0
        argv, cwd, data_env, path_env = json.loads(result.result)
        assert argv == [f"{data}/x.npz", "/jobless", "--flag"]
        assert cwd == data_env == str(data)
        assert path_env == f"{job}/bin:/usr/bin"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.getMessage() == WARNING]
    assert len(warnings) == 2


def test_docker_command_carries_exactly_the_isolation_flags_and_limits():
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
        ["/runtime/bin/python", "-B", "/harness/harness.py"],
        [Mount(Path("/srv/sub"), "/submission"), Mount(Path("/srv/rt"), "/runtime")],
        limits,
        {"A": "b", "PATH": "/runtime/bin"},
        "/submission",
    )
    assert command == [
        "docker", "run", "--rm", "-i", "--name", "job-1",
        "--network", "none", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "--pids-limit", "32", "--memory", str(1 << 29), "--memory-swap", str(1 << 29), "--cpus", "1",
        "--ulimit", "cpu=7:8", "--ulimit", "fsize=1000:1000", "--ulimit", "nofile=50:50",
        "--ulimit", "core=0:0",
        "--user", "65534:65534", "--tmpfs", "/tmp:rw,nosuid,nodev,size=4096",
        "-v", "/srv/sub:/submission:ro", "-v", "/srv/rt:/runtime:ro",
        "-w", "/submission", "-e", "A=b", "-e", "PATH=/runtime/bin",
        "img:1", "/bin/sh", "-c", 'exec "$@" 3>&1 1>&2', "sh",
        "/runtime/bin/python", "-B", "/harness/harness.py",
    ]  # fmt: skip


def test_docker_results_arrive_on_container_stdout_and_a_hang_is_docker_killed(job, tmp_path, monkeypatch):
    """No engine here: a fake `docker` plays the container (results on stdout, output on stderr)."""
    log = tmp_path / "docker.log"
    fake = tmp_path / "docker"
    fake.write_text(
        '#!/bin/sh\nif [ "$1" = kill ]; then echo "kill $2" >> "$FAKE_DOCKER_LOG"; exit 0; fi\n'
        'printf numbers\nprintf output >&2\ncase "$*" in *hang:latest*) exec sleep 30;; esac\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    argv, mounts = [PYTHON, "/job/x.py"], [Mount(job, "/job")]
    done = get_sandbox("docker", docker_path=str(fake), image="ok:latest").run(
        argv, mounts=mounts, limits=Limits(wall_seconds=10), env={}, cwd="/job"
    )
    assert (done.result, done.stderr, done.exit_code, done.backend) == (b"numbers", b"output", 0, "docker")
    started = time.monotonic()
    hung = get_sandbox("docker", docker_path=str(fake), image="hang:latest").run(
        argv, mounts=mounts, limits=Limits(wall_seconds=1), env={}, cwd="/job"
    )
    assert hung.killed_reason == "wall-clock" and time.monotonic() - started < 3
    assert log.read_text().startswith("kill hw1grader-")


def test_an_unknown_backend_is_a_value_error():
    with pytest.raises(ValueError, match="unknown sandbox 'nope'"):
        get_sandbox("nope")
