"""`make handout` builds what students download, and a student with only numpy can reach 25/25 with it."""

from __future__ import annotations

import os
import subprocess
import tarfile

from support.sandbox import runtime_python

from grader.paths import PROJECT_DIR
from grader.reference import install_bonus


def test_make_handout_builds_a_tar_a_numpy_only_student_can_complete(tmp_path):
    subprocess.run(["make", "handout"], cwd=PROJECT_DIR, check=True, capture_output=True, timeout=120)
    with tarfile.open(PROJECT_DIR / "dist" / "handout.tar") as archive:
        names = archive.getnames()
        archive.extractall(tmp_path, filter="data")
    handout = tmp_path / "handout"
    for required in (
        "grade.sh",
        "create_tarball.sh",
        "sandbox.py",
        "submit.py",
        "README.md",
        "hw1_bonus/stubs.py",
        "mytorch/optim/adam.py",
        "autograder/hw1_bonus_autograder/runner.py",
        "autograder/hw1_bonus_autograder/outputs/adam.npz",
    ):
        assert (handout / required).exists(), required
    assert not any("pycache" in name or "reference" in name for name in names)
    assert os.access(handout / "grade.sh", os.X_OK)

    install_bonus(handout / "mytorch")  # the student fills in the three parts
    # The sandbox runtime's interpreter (2020: Python 3.8, numpy 1.18.1) has numpy and scipy only: no
    # torch, nothing of the project.
    python, needs = runtime_python()
    result = subprocess.run(
        ["./grade.sh", "1b"],
        cwd=handout,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHON": str(python), **needs},
    )
    assert "Total score: 25/25" in result.stdout, result.stdout + result.stderr
