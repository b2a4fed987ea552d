"""The handout's own autograder (`./grade.sh 1b`), run as a student runs it: on the 2020 course's
Python 3.8 and numpy 1.18.1, and on a current Python with numpy 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.sandbox import runtime_python
from support.variants import VARIANTS

from grader.paths import HANDOUT_DIR
from grader.reference import install_bonus
from grader.rubric import load_rubric

RUNTIME_PYTHON, RUNTIME_NEEDS = runtime_python()  # the 2020 course's: what its students had
PYTHONS = {"python-3.8-numpy-1.18": RUNTIME_PYTHON, "numpy-2": Path(sys.executable)}


def copy_handout(destination: Path) -> Path:
    shutil.copytree(HANDOUT_DIR, destination, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def grade_sh(handout: Path, python: Path) -> tuple[int, dict, str]:
    """Runs ./grade.sh 1b; returns the total, the JSON summary (the last line) and the output."""
    result = subprocess.run(
        ["./grade.sh", "1b"],
        cwd=handout,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHON": str(python), **(RUNTIME_NEEDS if python == RUNTIME_PYTHON else {})},
    )
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, result.stderr
    total_line = next(line for line in lines if line.startswith("Total score: "))
    return int(total_line.split()[-1].split("/")[0]), json.loads(lines[-1]), result.stdout


@pytest.fixture(scope="module")
def solved_handout(tmp_path_factory) -> Path:
    handout = copy_handout(tmp_path_factory.mktemp("solved") / "handout")
    install_bonus(handout / "mytorch")
    return handout


@pytest.mark.parametrize("numpy_version", sorted(PYTHONS))
def test_handout_with_reference_parts_scores_full_marks(solved_handout, numpy_version):
    total, summary, output = grade_sh(solved_handout, PYTHONS[numpy_version])
    assert total == 25, output
    assert summary == {"scores": {test.autolab: test.points for test in load_rubric().TESTS}}
    assert output.count("PASS ") == 9


@pytest.mark.parametrize("numpy_version", sorted(PYTHONS))
def test_stub_handout_scores_zero(tmp_path, numpy_version):
    handout = copy_handout(tmp_path / "handout")
    total, summary, output = grade_sh(handout, PYTHONS[numpy_version])
    assert total == 0
    assert set(summary["scores"].values()) == {0}
    assert "NotImplementedError" in output
    assert "has no attribute 'Dropout'" in output  # the stub Dropout was not pasted in yet


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda variant: variant.name)
def test_wrong_variant_gets_partial_score_for_the_right_reason(solved_handout, tmp_path, variant):
    handout = copy_handout(tmp_path / "handout")
    shutil.rmtree(handout / "mytorch")
    shutil.copytree(solved_handout / "mytorch", handout / "mytorch")
    for relative, edit in variant.edits.items():
        path = handout / "mytorch" / relative
        path.write_text(edit(path.read_text()))

    total, summary, output = grade_sh(handout, RUNTIME_PYTHON)
    rubric = load_rubric()
    assert total == variant.score(rubric), output
    failed = {test.case for test in rubric.TESTS if summary["scores"][test.autolab] == 0}
    assert failed == variant.failing
    assert f"{variant.message} differs from the expected values" in output  # the server's words


def test_a_syntax_error_is_shown_with_its_code_line_and_caret_under_each_test(solved_handout, tmp_path):
    handout = copy_handout(tmp_path / "handout")
    shutil.rmtree(handout / "mytorch")
    shutil.copytree(solved_handout / "mytorch", handout / "mytorch")
    batchnorm = handout / "mytorch" / "nn" / "batchnorm.py"
    batchnorm.write_text(batchnorm.read_text().replace("if not self.is_train:", "if not self.is_train"))

    _, _, output = grade_sh(handout, RUNTIME_PYTHON)
    lines = output.splitlines()
    at = lines.index("FAIL Question 3 - Linear->Batchnorm->ReLU Forward (Train): 0/1")
    message, place, code, caret = lines[at + 1 : at + 5]
    assert message == "     cannot import your code: SyntaxError: invalid syntax"
    assert place.startswith('       File "') and place.endswith('mytorch/nn/batchnorm.py", line 23')
    assert code.strip() == "if not self.is_train" and caret.strip() == "^"
    assert len(code) - len(code.lstrip()) < len(caret) <= len(code) + 1  # the caret points at the code


def test_sandbox_script_runs_on_the_handout(solved_handout):
    result = subprocess.run(
        [str(RUNTIME_PYTHON), "sandbox.py"],
        cwd=solved_handout,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **RUNTIME_NEEDS},
    )
    assert result.returncode == 0, result.stderr
    assert "2/2 sanity checks passed" in result.stdout


def test_create_tarball_packs_mytorch_without_pycache(solved_handout, tmp_path):
    handout = copy_handout(tmp_path / "handout")
    (handout / "mytorch" / "__pycache__").mkdir()
    (handout / "mytorch" / "__pycache__" / "tensor.cpython-311.pyc").write_bytes(b"x")
    result = subprocess.run(["./create_tarball.sh"], cwd=handout, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    import tarfile

    with tarfile.open(handout / "handin.tar") as archive:
        names = archive.getnames()
    assert "mytorch/tensor.py" in names and "mytorch/optim/adam.py" in names
    assert not any("pycache" in name for name in names)
    assert all(name.startswith("mytorch") for name in names)
