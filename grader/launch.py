"""Runs the problems of a handin in one sandbox through grader/harness/launcher.py, and splits its
results stream into one run per problem.

The stream comes from inside the sandbox, so it is untrusted: its caps are applied again here, and
a problem whose END record is missing (the sandbox was killed, or the stream is garbled) ends the
way the whole sandbox did.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

from grader.harness import channel
from grader.sandbox import Limits, Mount, RunResult

HEADER_BYTES, KINDS = channel.HEADER_BYTES, channel.KINDS
END_FIELDS = {
    "exit_code": (int, type(None)),
    "signal": (int, type(None)),
    "killed_reason": (str, type(None)),
    "cpu_seconds": (int, float),
    "wall_seconds": (int, float),
    "stdout_truncated": bool,
    "stderr_truncated": bool,
}
KILL_REASONS = {None, "wall-clock", "idle", "cpu", "result-too-large"}
LAUNCHER_GRACE_S = 10.0  # the launcher's numpy import and wrap-up, beyond the problems' time limit
# The launcher gathers what each stream writes and passes it on every 0.1 s: a run of the full time
# limit makes a few thousand records. More than this is not the launcher's, and is not read.
MAX_RECORDS = 20_000


def run_problems(
    sandbox,
    python: str,
    harness_dir: str,
    autograder: str,
    submission: str,
    problems: list[tuple[str, list[str]]],
    limits: Limits,
    idle_seconds: float,
    *,
    mounts: list[Mount],
    env: dict[str, str],
) -> tuple[RunResult, list[RunResult], list[str]]:
    """Runs each (problem, cases) in a process of its own with `limits` (and stopped once it sleeps
    `idle_seconds` without using the CPU), side by side in one sandbox:
    one interpreter start and one numpy import for all, and a hang costs one time limit, not one
    per problem. Returns the sandbox's run (its CPU time is the whole tree's), a run per problem,
    and what was wrong with the stream."""
    spec = {  # the paths are arguments of their own: a backend may translate them (unsafe-process)
        "wall_seconds": limits.wall_seconds,
        "idle_seconds": idle_seconds,
        "output_bytes": limits.output_bytes,
        "result_bytes": limits.result_bytes,
        "problems": problems,
    }
    streams = len(problems) * (limits.result_bytes + 2 * limits.output_bytes)
    run = sandbox.run(
        [python, "-B", "-E", "-s", f"{harness_dir}/launcher.py", autograder, submission, json.dumps(spec)],
        mounts=mounts,
        # The launcher stops each problem at its time limit; this one only stops a launcher that failed.
        limits=replace(limits, wall_seconds=limits.wall_seconds + LAUNCHER_GRACE_S, result_bytes=2 * streams),
        env=env,
        cwd=submission,
    )
    return run, *demultiplex(run, len(problems), limits)


def demultiplex(run: RunResult, count: int, limits: Limits) -> tuple[list[RunResult], list[str]]:
    """The runs of problems 0..count-1, and what was wrong with the stream."""
    data = {index: {kind: bytearray() for kind in KINDS[:3]} for index in range(count)}
    ends: dict[int, dict] = {}
    problems: list[str] = []
    offset = records = 0
    while offset < len(run.result):
        records += 1
        if records > MAX_RECORDS:
            problems.append(f"more than {MAX_RECORDS} records in the results stream; the rest were ignored")
            break
        header = run.result[offset : offset + HEADER_BYTES]
        size = int.from_bytes(header[2:], "big")
        body = run.result[offset + HEADER_BYTES : offset + HEADER_BYTES + size]
        offset += HEADER_BYTES + size
        if len(header) < HEADER_BYTES or len(body) < size or header[0] >= count or header[1] >= len(KINDS):
            problems.append("the results stream is garbled; what follows was ignored")
            break
        index, kind = header[0], KINDS[header[1]]
        if kind == "end":
            end = _end(body)
            if end is None:
                problems.append(f"an unreadable end record of problem {index} was ignored")
            else:
                ends.setdefault(index, end)
        elif index not in ends:
            data[index][kind] += body
    caps = {"result": limits.result_bytes, "stdout": limits.output_bytes, "stderr": limits.output_bytes}
    runs = []
    for index in range(count):
        streams = data[index]
        over = {kind: len(streams[kind]) > caps[kind] for kind in caps}
        end = ends.get(index) or {  # it never said how it ended: as the whole sandbox ended
            "exit_code": run.exit_code,
            "signal": run.signal,
            "killed_reason": run.killed_reason,
            "cpu_seconds": run.cpu_seconds,  # the whole sandbox's: what its kill was about
            "wall_seconds": run.wall_seconds,
            "stdout_truncated": run.stdout_truncated,
            "stderr_truncated": run.stderr_truncated,
        }
        runs.append(
            replace(
                run,
                exit_code=end["exit_code"],
                signal=end["signal"],
                killed_reason="result-too-large" if over["result"] else end["killed_reason"],
                stdout=bytes(streams["stdout"][: caps["stdout"]]),
                stderr=bytes(streams["stderr"][: caps["stderr"]]),
                result=bytes(streams["result"][: caps["result"]]),
                stdout_truncated=end["stdout_truncated"] or over["stdout"],
                stderr_truncated=end["stderr_truncated"] or over["stderr"],
                wall_seconds=float(end["wall_seconds"]),
                cpu_seconds=float(end["cpu_seconds"]),
            )
        )
    return runs, problems


def _end(body: bytes) -> dict | None:
    """An END record, if it is one: JSON with exactly the expected fields and types."""
    try:
        end = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(end, dict) or set(end) != set(END_FIELDS):
        return None
    for name, kinds in END_FIELDS.items():
        value = end[name]
        if not isinstance(value, kinds) or (isinstance(value, bool) and kinds is not bool):
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return None
    if end["killed_reason"] not in KILL_REASONS:
        return None
    return end
