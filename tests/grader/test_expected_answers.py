"""The expected answers shipped in the handout are what the reference solution computes today."""

from __future__ import annotations

import numpy as np

from grader import expected
from grader.rubric import load_expected, load_rubric


def test_shipped_expected_answers_are_not_stale():
    differences = expected.stale(expected.compute())
    assert differences == [], "run `make expected` and commit the new outputs/*.npz"


def test_a_changed_answer_is_detected_as_stale(tmp_path):
    computed = expected.compute()
    key = next(iter(computed["adam"]))
    computed["adam"][key] = computed["adam"][key] + 1e-3
    assert expected.stale(computed) == [f"adam.npz: {key} differs"]


def test_every_rubric_case_has_graded_answers():
    for test in load_rubric().TESTS:
        answers = load_expected(test.problem)
        graded = [key for key in answers if key.startswith(f"{test.case}/") and "/diagnostic/" not in key]
        assert graded, test.case
        assert all(np.all(np.isfinite(answers[key])) for key in graded)
