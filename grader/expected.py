"""Regenerates the handout's expected answers (outputs/<problem>.npz) from the reference solution.

The reference mytorch runs through the same harness as a student's, on the host
(it is our own code), with the current numpy; legacy np.random streams are the
same in every numpy version, so the answers hold for the sandbox runtime too.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from grader.compare import DIAGNOSTIC
from grader.config import GraderConfig
from grader.frames import parse_frames
from grader.launch import run_problems
from grader.paths import AUTOGRADER_DIR, HANDOUT_DIR, HARNESS_DIR
from grader.reference import build_reference_mytorch
from grader.rubric import expected_path, load_rubric, problem_cases
from grader.sandbox import Limits, get_sandbox

# Two runs on different numpy builds may differ in the last bits; a stale file differs far more.
STALE_RTOL, STALE_ATOL = 1e-9, 1e-12


def compute(autograder_dir: Path = AUTOGRADER_DIR, handout_dir: Path = HANDOUT_DIR) -> dict[str, dict]:
    """Runs every rubric case on the reference; returns {problem: {key: array}}."""
    rubric = load_rubric(autograder_dir)
    answers: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="reference-") as scratch:
        build_reference_mytorch(handout_dir, Path(scratch))
        host = get_sandbox("unsafe-process", warn=False)
        problems = problem_cases(rubric)
        _, runs, stream_problems = run_problems(
            host,
            sys.executable,
            str(HARNESS_DIR),
            str(autograder_dir),
            scratch,
            problems,
            Limits(),
            GraderConfig().idle_seconds,
            mounts=[],
            env={"PATH": "/usr/bin:/bin"},
        )
        for (problem, cases), run in zip(problems, runs, strict=True):
            records, frame_problems = parse_frames(run.result, set(cases))
            frame_problems += stream_problems
            answers[problem] = {}
            for case in cases:
                record = records.get(case)
                if record is None or record.status != "ok" or frame_problems:
                    detail = record.error + "\n" + record.traceback if record else run.stderr.decode()
                    raise RuntimeError(f"the reference fails {problem}/{case}: {detail} {frame_problems}")
                for quantity in record.quantities:
                    key = quantity["name"] if quantity["graded"] else DIAGNOSTIC + quantity["name"]
                    answers[problem][f"{case}/{key}"] = record.arrays[quantity["name"]]
    return answers


def write(answers: dict[str, dict], autograder_dir: Path = AUTOGRADER_DIR) -> list[Path]:
    paths = []
    for problem, arrays in answers.items():
        path = expected_path(problem, autograder_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **arrays)
        paths.append(path)
    return paths


def stale(answers: dict[str, dict], autograder_dir: Path = AUTOGRADER_DIR) -> list[str]:
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
