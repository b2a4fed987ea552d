"""The layers point one way: grader <- core <- api and worker; api and worker never import each
other; the sandbox's harness and the handout import nothing of the project."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
OURS = {"api", "core", "worker", "grader"}
FORBIDDEN = {  # package -> the packages of the project it must not import
    "grader": {"api", "core", "worker"},
    "core": {"api", "worker"},
    "api": {"worker"},
    "worker": {"api"},
}
# Inside the sandbox: the standard library, numpy, the harness's own modules and the autograder's.
HARNESS_MAY_IMPORT = set(sys.stdlib_module_names) | {"numpy", "channel", "harness", "no_torch"}


def imports(path: Path) -> set[str]:
    """The top-level names of every module `path` imports, at its top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def python_files(folder: str) -> list[Path]:
    return sorted((PROJECT / folder).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(package):
    wrong = {
        str(path.relative_to(PROJECT)): sorted(imports(path) & FORBIDDEN[package])
        for path in python_files(package)
        if imports(path) & FORBIDDEN[package]
    }
    assert wrong == {}


def test_the_harness_imports_the_standard_library_and_numpy_only():
    wrong = {
        path.name: sorted(imports(path) - HARNESS_MAY_IMPORT)
        for path in python_files("grader/harness")
        if imports(path) - HARNESS_MAY_IMPORT
    }
    assert wrong == {}


def test_the_handout_imports_nothing_of_the_project():
    wrong = {
        str(path.relative_to(PROJECT)): sorted(imports(path) & OURS)
        for path in python_files("handout")
        if imports(path) & OURS
    }
    assert wrong == {}


def test_the_check_sees_a_forbidden_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from worker.tasks import sweep\n    import api.main\n")
    assert imports(sample) & FORBIDDEN["core"] == {"api", "worker"}


def test_the_grader_tests_need_neither_postgresql_nor_redis():
    """Only the tests that ask for the database get one: the grader's run with both out of reach."""
    unreachable = {"TEST_DATABASE_ADMIN_URL": "postgresql://postgres@127.0.0.1:1/test"}
    unreachable["TEST_REDIS_URL"] = "redis://127.0.0.1:1/9"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/grader/test_frames.py",
            "tests/grader/test_checks.py",
            "tests/grader/test_grade_scripted.py",
        ],
        cwd=PROJECT,
        env={**os.environ, **unreachable},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
