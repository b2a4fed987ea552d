"""Trusted comparison of one test's recorded numbers against the reference's."""

from __future__ import annotations

import re

import numpy as np

from grader.checks import check_close, check_finite, check_shape, check_type
from grader.diagnose import explain_dropout
from grader.frames import CaseRecord
from grader.report import TestResult

DIAGNOSTIC = "diagnostic/"
_STEP = re.compile(r"^(train|eval)(\d+)\.")
_LINEAR = re.compile(r"^linear(\d+)\.(dW|db|W)$")
_WHAT = {"y": "output", "dx": "gradient of the input x", "eval.y": "output in eval mode"}
_LINEAR_WHAT = {
    "dW": "gradient of Linear #{}'s weight",
    "db": "gradient of Linear #{}'s bias",
    "W": "Linear #{}'s weight after the optimizer step",
}


def describe_quantity(name: str) -> str:
    """'train2.linear0.dW' -> "train step 3, gradient of Linear #0's weight [train2.linear0.dW]"."""
    rest, step = name, ""
    if match := _STEP.match(name):
        step = f"{match[1]} step {int(match[2]) + 1}, "
        rest = name[match.end() :]
    if match := _LINEAR.match(rest):
        what = _LINEAR_WHAT[match[2]].format(match[1])
    else:
        what = _WHAT.get(rest, rest)
    return f"{step}{what} [{name}]"


def graded_quantities(case: str, expected: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    prefix = f"{case}/"
    return [
        (key[len(prefix) :], value)
        for key, value in expected.items()
        if key.startswith(prefix) and not key[len(prefix) :].startswith(DIAGNOSTIC)
    ]


def error_message(record: CaseRecord) -> str:
    """'your code raised <the error> (<file>, line <n>)', then the error's other lines (a SyntaxError's
    code and caret) as they are."""
    first, _, rest = record.error.partition("\n")
    where = f" ({record.where['file']}, line {record.where['line']})" if record.where else ""
    return f"your code raised {first}{where}" + (f"\n{rest}" if rest else "")


def compare_test(
    test, record: CaseRecord | None, expected: dict[str, np.ndarray], missing: str
) -> TestResult:
    """Scores one rubric test. `missing` explains an absent record (e.g. the run was killed)."""

    def result(passed: bool, message: str) -> TestResult:
        return TestResult(
            name=test.name,
            autolab=test.autolab,
            problem=test.problem,
            points=float(test.points) if passed else 0.0,
            max_points=float(test.points),
            passed=passed,
            message=message,
            where=None if record is None else record.where,
        )

    if record is None:
        return result(False, missing)
    for name, want in graded_quantities(test.case, expected):
        recorded = record.recorded(name)
        if recorded is None or not recorded["graded"]:
            if record.status == "error":
                return result(False, error_message(record))
            return result(False, f"your code never produced the {describe_quantity(name)}")
        value = record.arrays.get(name)
        label = describe_quantity(name)
        problem = check_type(label, recorded["type"], value)
        if problem is None:
            problem = (
                check_shape(label, value, want)
                or check_finite(label, value, want)
                or check_close(label, value, want, test.rtol, test.atol)
            )
        if problem is not None:
            hint = dropout_hint(test, record, name, value, expected)
            return result(False, f"{problem}. {hint}" if hint else problem)
    if record.status == "error":
        return result(False, error_message(record))
    return result(True, "passed")


def dropout_hint(test, record: CaseRecord, name: str, value, expected: dict[str, np.ndarray]) -> str | None:
    """For a wrong dropout output, what the pattern of the numbers says went wrong."""
    reference_input = expected.get(f"{test.case}/{DIAGNOSTIC}dropout_input")
    p = expected.get(f"{test.case}/{DIAGNOSTIC}dropout_p")
    if name != "y" or reference_input is None or p is None or value is None:
        return None
    own_input = record.arrays.get("dropout_input")
    if own_input is not None and (
        own_input.shape != reference_input.shape
        or not np.allclose(own_input, reference_input, rtol=test.rtol, atol=test.atol)
    ):
        return "The input of Dropout already differs: check Linear and ReLU before Dropout."
    return explain_dropout(value, reference_input, float(p), test.rtol, test.atol)
