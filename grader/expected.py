"""The expected answers: what the reference solution computes on an instance of every rubric case.

The reference mytorch runs through the same launcher and harness as a student's, but on the
trusted side: on the host, outside any sandbox, and its answers never enter one. The service asks
for the answers of its hidden instances (`answers`, cached per instance and runtime: one reference
run per process and secret); `make expected` writes those of the handout's published instances
into the handout (`compute` + `write`), for the local autograder.

The reference runs on the interpreter it is given: the sandbox runtime's, for the service, so the
answers come from the numpy that the students' code runs on.
"""

from __future__ import annotations

import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from grader.compare import DIAGNOSTIC
from grader.errors import InfrastructureError
from grader.frames import parse_frames
from grader.instances import case_seeds, problem_cases
from grader.launch import run_problems
from grader.paths import AUTOGRADER_DIR, HANDOUT_DIR, HARNESS_DIR
from grader.reference import build_reference_mytorch
from grader.rubric import expected_path, load_rubric
from grader.sandbox import Limits
from grader.sandbox.unsafe import UnsafeProcessSandbox

Answers = dict[str, dict[str, np.ndarray]]  # {problem: {"case/quantity": array}}

# Two runs on different numpy builds may differ in the last bits; a stale file differs far more.
STALE_RTOL, STALE_ATOL = 1e-9, 1e-12
IDLE_SECONDS = 30.0  # our own code: only a broken reference would sleep


class ReferenceFailed(InfrastructureError):
    """The reference solution did not produce its answers (a defect of ours, never the student's)."""


def compute(
    seeds: dict[str, int] | None = None,
    python: str = sys.executable,
    python_env: dict[str, str] | None = None,
    autograder_dir: Path = AUTOGRADER_DIR,
    handout_dir: Path = HANDOUT_DIR,
) -> Answers:
    """Runs every rubric case on the reference with `python` (which needs `python_env`), on the
    instances `seeds` names (the published ones by default); returns {problem: {key: array}}."""
    rubric = load_rubric(autograder_dir)
    seeds = seeds or case_seeds(rubric, None)
    answers: Answers = {}
    with tempfile.TemporaryDirectory(prefix="reference-") as scratch:
        build_reference_mytorch(handout_dir, Path(scratch))
        problems = problem_cases(rubric, seeds)
        _, runs, stream_problems = run_problems(
            UnsafeProcessSandbox(warn=False),  # our own code, on the trusted side
            python,
            str(HARNESS_DIR),
            str(autograder_dir),
            scratch,
            problems,
            Limits(),
            IDLE_SECONDS,
            mounts=[],
            env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
            | (python_env or {}),
        )
        for (problem, cases), run in zip(problems, runs, strict=True):
            records, frame_problems = parse_frames(run.result, {case for case, _ in cases})
            frame_problems += stream_problems
            answers[problem] = {}
            for case, _ in cases:
                record = records.get(case)
                if record is None or record.status != "ok" or frame_problems:
                    detail = record.error + "\n" + record.traceback if record else run.stderr.decode()
                    raise ReferenceFailed(f"the reference fails {problem}/{case}: {detail} {frame_problems}")
                for quantity in record.quantities:
                    key = quantity["name"] if quantity["graded"] else DIAGNOSTIC + quantity["name"]
                    answers[problem][f"{case}/{key}"] = record.arrays[quantity["name"]]
    return answers


def answers(
    seeds: dict[str, int], python: str, python_env: tuple[tuple[str, str], ...], runtime_key: str
) -> Answers:
    """The answers of the instances `seeds` on the runtime whose interpreter is `python`, computed
    once per process for each (seeds, runtime): `runtime_key` changes when the runtime is rebuilt."""
    return _cached(tuple(sorted(seeds.items())), python, python_env, runtime_key)


@lru_cache(maxsize=16)
def _cached(
    seeds: tuple[tuple[str, int], ...], python: str, python_env: tuple[tuple[str, str], ...], runtime_key: str
) -> Answers:
    computed = compute(dict(seeds), python, dict(python_env))
    for arrays in computed.values():
        for value in arrays.values():
            value.flags.writeable = False  # shared by every grading of the process
    return computed


def write(answers: Answers, autograder_dir: Path = AUTOGRADER_DIR) -> list[Path]:
    paths = []
    for problem, arrays in answers.items():
        path = expected_path(problem, autograder_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **arrays)
        paths.append(path)
    return paths


def stale(answers: Answers, autograder_dir: Path = AUTOGRADER_DIR) -> list[str]:
    """What differs between freshly computed answers and the shipped files (empty if current)."""
    differences = []
    for problem, arrays in answers.items():
        path = expected_path(problem, autograder_dir)
        if not path.exists():
            differences.append(f"{path.name} is missing")
            continue
        with np.load(path, allow_pickle=False) as shipped:
            if list(shipped.files) != list(arrays):
                differences.append(f"{path.name}: quantities differ")
                continue
            for key, value in arrays.items():
                old = shipped[key]
                if old.shape != value.shape or not np.allclose(old, value, rtol=STALE_RTOL, atol=STALE_ATOL):
                    differences.append(f"{path.name}: {key} differs")
    return differences


if __name__ == "__main__":  # pragma: no cover - `python -m grader expected` is the entry point
    sys.exit("use: python -m grader expected")
