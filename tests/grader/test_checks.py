"""The checks of a recorded quantity (the handout's checks.py, which ./grade.sh and the server share)
and the comparison of one test's record with the expected answers, without any sandbox."""

from __future__ import annotations

import numpy as np
import pytest

from grader.compare import compare_test, error_message
from grader.diagnose import explain_dropout
from grader.frames import CaseRecord
from grader.rubric import load_module, load_rubric

checks = load_module("checks")
TEST = next(test for test in load_rubric().TESTS if test.case == "dropout_forward")  # rtol 1e-5, atol 1e-6


@pytest.mark.parametrize(
    ("name", "words"),
    [
        (
            "train2.linear0.dW",
            "the gradient of Linear #0's weight in train step 3 (recorded as train2.linear0.dW)",
        ),
        ("train1.y", "the output in train step 2 (recorded as train1.y)"),
        ("eval0.y", "the output in eval step 1 (recorded as eval0.y)"),
        ("linear1.W", "Linear #1's weight after the optimizer step (recorded as linear1.W)"),
        ("eval.y", "the output in eval mode (recorded as eval.y)"),
        ("dropout_input", "dropout_input"),
    ],
)
def test_a_quantity_is_named_in_words_and_its_name_in_the_test_code_comes_second(name, words):
    assert checks.describe_quantity(name) == words


def test_each_check_says_what_is_wrong_or_nothing():
    want = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert checks.check("y", "numpy.ndarray", want.copy(), want, 1e-5, 1e-8) is None
    assert checks.check("y", "builtins.list", None, want, 1e-5, 1e-8) == (
        "the output (recorded as y) is a list, expected a numpy.ndarray (keep Tensor.data a numpy array)"
    )
    assert (
        checks.check("y", "numpy.ndarray", want[0], want, 1e-5, 1e-8)
        == "the output (recorded as y) has shape (2,), expected (2, 2)"
    )
    nan = want.copy()
    nan[1, 0] = np.nan
    assert "1 non-finite value(s) (NaN or inf), first at index (1, 0)" in checks.check(
        "y", "numpy.ndarray", nan, want, 1e-5, 1e-8
    )


def test_a_value_off_names_the_worst_element_and_the_expected_only_roughly():
    want = np.array([1.0, 2.123456789, 3.0])
    value = want + np.array([0.0, 0.01, 1e-9])
    message = checks.check_close("the output (recorded as y)", value, want, 1e-5, 1e-8)
    assert message == (
        "the output (recorded as y) differs from the expected values in 1 of 3 element(s); worst at "
        "index (1,): yours 2.1334568, expected about 2.123 (difference about 0.01; rtol=1e-05, atol=1e-08)"
    )


def record(status: str = "ok", **fields) -> CaseRecord:
    return CaseRecord(case=TEST.case, status=status, **fields)


def expected_of(y: np.ndarray, dropout_input: np.ndarray) -> dict[str, np.ndarray]:
    return {
        f"{TEST.case}/y": y,
        f"{TEST.case}/eval.y": dropout_input,
        f"{TEST.case}/diagnostic/dropout_input": dropout_input,
        f"{TEST.case}/diagnostic/dropout_p": np.array(0.5),
    }


def recorded(arrays: dict[str, np.ndarray]) -> list[dict]:
    return [{"name": name, "graded": True, "type": "numpy.ndarray"} for name in arrays]


def test_a_record_that_matches_passes_and_one_without_a_quantity_says_which():
    hidden = np.array([[1.0, 2.0, 3.0, 4.0]])
    expected = expected_of(hidden * [[2, 0, 2, 0]], hidden)
    arrays = {"y": hidden * [[2, 0, 2, 0]], "eval.y": hidden}
    assert compare_test(TEST, record(quantities=recorded(arrays), arrays=arrays), expected, "").passed
    partial = {"y": arrays["y"]}
    result = compare_test(TEST, record(quantities=recorded(partial), arrays=partial), expected, "")
    assert result.message == "your code never produced the output in eval mode (recorded as eval.y)"


def test_a_missing_record_gives_the_reason_the_run_ended_and_an_error_its_place():
    assert compare_test(TEST, None, {}, "no result: killed").message == "no result: killed"
    failed = record(
        status="error", error="ValueError: bad", where={"file": "mytorch/nn/functional.py", "line": 9}
    )
    assert error_message(failed) == "your code raised ValueError: bad (mytorch/nn/functional.py, line 9)"
    syntax = record(status="error", error="SyntaxError on Python 3.8.18: invalid\n    f((*x))\n       ^")
    assert error_message(syntax).splitlines()[1:] == ["    f((*x))", "       ^"]


def test_a_dropout_with_another_mask_is_told_apart_from_one_that_does_not_scale():
    hidden = np.arange(1.0, 9.0).reshape(2, 4)
    expected = hidden * np.array([[2, 0, 2, 0], [0, 2, 0, 2]])
    other_mask = hidden * np.array([[0, 2, 0, 2], [2, 0, 2, 0]])
    assert "valid dropout of its input" in explain_dropout(other_mask, hidden, 0.5, 1e-5, 1e-6)
    unscaled = hidden * np.array([[1, 0, 1, 0], [0, 1, 0, 1]])
    assert "not scaled" in explain_dropout(unscaled, hidden, 0.5, 1e-5, 1e-6)
    assert "nothing was dropped" in explain_dropout(hidden, hidden, 0.5, 1e-5, 1e-6)
    assert explain_dropout(expected + 7, hidden, 0.5, 1e-5, 1e-6) is None
