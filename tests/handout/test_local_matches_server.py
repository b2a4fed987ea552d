"""Local = server: `./grade.sh 1b` on a student's laptop (a current Python and numpy 2, torch
installed) gives every handin of the test corpus the total the server gives it.

Two differences are allowed, and said: a handin that hard-codes the handout's published answers (the
server grades on hidden instances; none is in this corpus), and code that only the server's 2020
runtime can run (syntax Python 3.9 refused, names numpy 1.24 removed): `./grade.sh` then says which
versions the server grades on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest
from support.variants import REAL_2020, VARIANTS, Variant

from grader.config import GraderConfig
from grader.grade import grade_handin
from grader.paths import HANDOUT_DIR
from grader.rubric import load_rubric
from grader.sandbox import Limits

RUBRIC = load_rubric()
CONFIG = GraderConfig(limits=replace(Limits(), wall_seconds=10), secret=b"parity")
ONLY_ON_THE_SERVER = {
    "parenthesized_starred_call",
    "numpy_float",
}  # this laptop's Python or numpy refuse them
CORPUS = [Variant("correct", {}, frozenset(), ""), *VARIANTS, *REAL_2020]


def grade_locally(mytorch, folder) -> tuple[int, str]:
    """./grade.sh 1b in a copy of the handout holding `mytorch`, on this venv's Python (numpy 2, torch)."""
    handout = folder / "handout"
    shutil.copytree(HANDOUT_DIR, handout, ignore=shutil.ignore_patterns("__pycache__", "mytorch"))
    shutil.copytree(mytorch, handout / "mytorch")
    result = subprocess.run(
        ["./grade.sh", "1b"],
        cwd=handout,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert result.returncode == 0, result.stderr
    return sum(json.loads(result.stdout.strip().splitlines()[-1])["scores"].values()), result.stdout


def test_the_laptop_has_what_a_2020_student_may_have_now():
    import numpy
    import torch  # noqa: F401 - installed, as on a student's laptop

    assert int(numpy.__version__.split(".")[0]) >= 2 and sys.version_info >= (3, 9)


@pytest.mark.parametrize("variant", CORPUS, ids=lambda variant: variant.name)
def test_local_and_server_totals_agree(make_handin, tmp_path, variant):
    handin = make_handin(f"parity-{variant.name}", variant.edits or None)
    server = grade_handin(handin, CONFIG).total
    local, output = grade_locally(handin.parent / "mytorch", tmp_path)
    assert server == variant.score(RUBRIC)
    if variant.name in ONLY_ON_THE_SERVER:
        assert local < server
        assert "may come from this machine's versions" in output
        assert "the server grades on Python 3.8 with numpy 1.18.1 and scipy 1.4.1" in output
    else:
        assert local == server, output


def test_the_starter_code_scores_0_both_ways(make_handin, tmp_path):
    handin = make_handin("parity-stub", stub=True)
    assert grade_handin(handin, CONFIG).total == 0
    assert grade_locally(handin.parent / "mytorch", tmp_path)[0] == 0
