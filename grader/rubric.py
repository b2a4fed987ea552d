"""The assignment's rubric, and the published expected answers, read from the handout's autograder folder.

The handout's `rubric.py` is the one definition of the tests, points and
tolerances; the local autograder and the service both read it. The published answers (of the
handout's SEED) are for the local autograder; the service grades on hidden instances
(grader/instances.py) whose answers grader/expected.py computes.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np

from grader.paths import AUTOGRADER_DIR


@cache
def load_module(name: str, autograder_dir: Path = AUTOGRADER_DIR) -> ModuleType:
    """Imports `name.py` of an autograder folder, as the grader's own: the handout's modules that the
    local autograder and the service share (the rubric, the checks), so that both say the same."""
    spec = importlib.util.spec_from_file_location(
        f"autograder_{name}_{abs(hash(autograder_dir))}", autograder_dir / f"{name}.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_rubric(autograder_dir: Path = AUTOGRADER_DIR) -> ModuleType:
    """The rubric (plain data, standard library only)."""
    return load_module("rubric", autograder_dir)


def expected_path(problem: str, autograder_dir: Path = AUTOGRADER_DIR) -> Path:
    return autograder_dir / "outputs" / f"{problem}.npz"


@cache
def load_expected(problem: str, autograder_dir: Path = AUTOGRADER_DIR) -> dict[str, np.ndarray]:
    """The published answers of one problem, keyed `case/name`, in recording order."""
    with np.load(expected_path(problem, autograder_dir), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
