"""Grades one handin: safe unpack, each problem in its own sandboxed process, trusted comparison, report."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import tempfile
import textwrap
import time
from pathlib import Path

from grader import expected, launch, runtime
from grader.compare import compare_test
from grader.config import GraderConfig
from grader.errors import InfrastructureError
from grader.flags import flags_of
from grader.frames import parse_frames
from grader.instances import case_seeds, fingerprint, problem_cases
from grader.paths import HARNESS_DIR
from grader.report import Report, TestResult
from grader.rubric import load_rubric
from grader.sandbox import Limits, Mount, RunResult, Sandbox, get_sandbox
from grader.sandbox.process import mark_cpu_kill
from grader.unpack import HandinError, unpack_handin

log = logging.getLogger(__name__)

# Paths inside the sandbox.
RUNTIME, AUTOGRADER, HARNESS, SUBMISSION = "/runtime", "/autograder", "/harness", "/submission"
SANDBOX_ENV = {
    "PATH": f"{RUNTIME}/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "MPLCONFIGDIR": "/tmp",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",  # what a handin printed is kept even if it is killed (3.8 buffers stderr)
    # One thread per job: the worker runs one job per core.
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


class LauncherFailed(InfrastructureError):
    """The sandbox's launcher (our code) failed before the student's code could run."""


def grade_handin(archive: Path, config: GraderConfig | None = None, sandbox: Sandbox | None = None) -> Report:
    """Grades `archive` (a handin.tar). A broken handin is a report with 0 points, not an exception;
    InfrastructureError (its subclasses) means it could not be graded here. `sandbox`: the one the
    config names, unless given (the tests give a scripted one)."""
    config = config or GraderConfig()
    started = time.monotonic()
    rubric = load_rubric(config.autograder_dir)
    sandbox = sandbox or sandbox_for(config)
    sandbox.check()  # no confinement, no grading: before any student code runs
    versions = runtime.manifest(config.runtime, config.runtimes_dir)
    runtime_info = {key: versions[key] for key in ("python", "numpy", "scipy")} | {
        "name": config.runtime,
        "instances": fingerprint(config.secret),
    }
    seeds = case_seeds(rubric, config.secret)
    answers = answers_for(seeds, config, versions)

    with tempfile.TemporaryDirectory(prefix="handin-") as scratch:
        submission = Path(scratch) / "submission"
        submission.mkdir()
        os.chmod(scratch, 0o755)  # the sandbox user must be able to read the unpacked files
        os.chmod(submission, 0o755)
        try:
            unpacked = unpack_handin(archive, submission, config.unpack_limits)
        except HandinError as error:
            tests = [rejected(test, str(error)) for test in rubric.TESTS]
            return Report(
                tests,
                rubric.MAX_SCORE,
                runtime_info,
                f"handin rejected: {error}\n",
                time.monotonic() - started,
                sandbox=config.sandbox,
            )

        flags = flags_of(unpacked.root, unpacked.files)
        log_parts = [f"unpacked {len(unpacked.files)} file(s) of mytorch/"]
        if unpacked.ignored:
            log_parts.append(
                f"ignored {len(unpacked.ignored)} other member(s): {', '.join(unpacked.ignored[:10])}"
                + (" ..." if len(unpacked.ignored) > 10 else "")
            )
        mounts = [
            Mount(runtime.runtime_dir(config.runtime, config.runtimes_dir), RUNTIME),
            Mount(test_code(config.autograder_dir, Path(scratch) / "autograder"), AUTOGRADER),
            Mount(HARNESS_DIR, HARNESS),
            Mount(submission, SUBMISSION),
        ]
        env = SANDBOX_ENV | runtime.environment(versions, RUNTIME)
        outcomes, sandboxed = grade_problems(sandbox, mounts, rubric, seeds, answers, config, env)
    tests = [result for results, _, _ in outcomes for result in results]
    log_parts += [log for _, log, _ in outcomes]
    kills = [kill for _, _, kill in outcomes if kill]

    return Report(
        tests,
        rubric.MAX_SCORE,
        runtime_info,
        "\n".join(log_parts) + "\n",
        time.monotonic() - started,
        cpu_s=sandboxed.cpu_seconds,
        kills=kills,
        sandbox=sandbox.name,
        memory_peak_bytes=sandboxed.memory_peak_bytes,
        cgroup=sandboxed.cgroup,
        flags=flags,
    )


def answers_for(seeds: dict[str, int], config: GraderConfig, versions: dict) -> expected.Answers:
    """The reference's answers on these instances, computed on the trusted side with the runtime's
    own interpreter (so with the numpy the student's code runs on)."""
    folder = runtime.runtime_dir(config.runtime, config.runtimes_dir)
    env = tuple(sorted(runtime.environment(versions, folder).items()))
    return expected.answers(seeds, str(folder / "bin" / "python"), env, json.dumps(versions, sort_keys=True))


def test_code(autograder_dir: Path, destination: Path) -> Path:
    """A copy of the autograder's code (the cases, their helpers, the rubric) for the sandbox: never
    its outputs/ folder, whose published answers are those of the handout's instances."""
    destination.mkdir(mode=0o755)
    for source in autograder_dir.glob("*.py"):
        shutil.copyfile(source, destination / source.name)
    return destination


def grade_problems(
    sandbox,
    mounts: list[Mount],
    rubric,
    seeds: dict[str, int],
    answers: expected.Answers,
    config: GraderConfig,
    env: dict[str, str],
):
    """Runs every problem in one sandbox, side by side, each in a process of its own with its own
    time limit (the launcher forks them after one numpy import): a hang costs one time limit, not
    three, and a crash only its problem.

    Returns ([(results, log section, why its process was killed or None)] per problem, the sandbox's run).
    """
    limits = config.limits
    sandboxed, runs, stream_problems = launch.run_problems(
        sandbox,
        f"{RUNTIME}/bin/python",
        HARNESS,
        AUTOGRADER,
        SUBMISSION,
        problem_cases(rubric, seeds),
        limits,
        config.idle_seconds,
        mounts=mounts,
        env=env,
    )
    if sandboxed.exit_code not in (0, None) and sandboxed.killed_reason is None:  # a traceback, not a kill
        detail = sandboxed.stderr.decode("utf-8", "replace").strip()[-2000:]
        raise LauncherFailed(f"the launcher failed (exit code {sandboxed.exit_code}): {detail}")
    outcomes = []
    for problem, problem_run in zip(rubric.PROBLEMS, runs, strict=True):
        mark_cpu_kill(problem_run, limits)
        problem_tests = rubric.tests_of(problem)
        records, frame_problems = parse_frames(problem_run.result, {test.case for test in problem_tests})
        missing = missing_reason(problem_run, limits)
        results = [
            compare_test(test, records.get(test.case), answers[problem], missing) for test in problem_tests
        ]
        log = problem_log(problem, problem_run, records, results, stream_problems + frame_problems)
        outcomes.append((results, log, problem_run.killed_reason))
    return outcomes, sandboxed


def sandbox_for(config: GraderConfig):
    try:
        return get_sandbox(config.sandbox, weak=config.weak, **config.sandbox_options)
    except ValueError as error:  # an unknown backend: a configuration error of the service
        raise InfrastructureError(str(error)) from error


def rejected(test, message: str) -> TestResult:
    return TestResult(test.name, test.autolab, test.problem, 0.0, float(test.points), False, message)


def missing_reason(run: RunResult, limits: Limits) -> str:
    """Why a test has no result, from how its sandboxed process ended."""
    if run.killed_reason == "wall-clock":
        return (
            f"no result: stopped at the time limit of {limits.wall_seconds:g} s "
            "(an infinite loop, or very slow code?)"
        )
    if run.killed_reason == "idle":
        return "no result: stopped after your code waited without computing (a sleep, a lock, or input?)"
    if run.killed_reason == "cpu":
        return (
            f"no result: stopped at the CPU time limit of {limits.cpu_seconds:g} s, all your processes "
            "together (an infinite loop, or very slow code?)"
        )
    if run.killed_reason == "result-too-large":
        return "no result: your code wrote too much data into the grader's results channel"
    if run.signal == signal.SIGKILL and run.oom_kills:
        return (
            f"no result: your code ran out of memory (the limit is {limits.memory_bytes >> 20} MiB, "
            "all your processes together)"
        )
    if run.signal is not None:
        return f"no result: the grading process was killed by signal {run.signal} before this test finished"
    if b"MemoryError" in run.stderr:
        return "no result: your code ran out of memory"
    if run.exit_code == 0:
        return "no result: the process ended before this test finished (did your code call os._exit()?)"
    return f"no result: the grading process ended (exit code {run.exit_code}) before this test finished"


def problem_log(
    problem, run: RunResult, records, results: list[TestResult], frame_problems: list[str]
) -> str:
    """The grader log of one problem: how it ran, what it printed, each failure's traceback."""
    ending = (
        f"killed ({run.killed_reason})"
        if run.killed_reason
        else (f"signal {run.signal}" if run.signal is not None else f"exit code {run.exit_code}")
    )
    lines = [
        f"== {problem}: {ending}, {run.wall_seconds:.2f} s wall, {run.cpu_seconds:.2f} s CPU "
        f"(sandbox: {run.backend})"
    ]
    lines += [f"   warning: {problem_text}" for problem_text in frame_problems]
    output = (run.stdout + run.stderr).decode("utf-8", "replace").strip()
    if output:
        truncated = " (truncated)" if run.stdout_truncated or run.stderr_truncated else ""
        lines += [f"-- output of your code{truncated} --", output]
    for result in results:
        lines.append(
            f"{'PASS' if result.passed else 'FAIL'} {result.name}: "
            f"{result.points:g}/{result.max_points:g}"
            + ("" if result.passed else "\n" + textwrap.indent(result.message, "     "))
        )
    tracebacks = {
        record.traceback for record in records.values() if record.status == "error" and record.traceback
    }
    for text in sorted(tracebacks):
        lines += ["-- traceback --", text]
    return "\n".join(lines)
