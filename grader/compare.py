"""Trusted comparison of one test's recorded numbers against the reference's."""

from __future__ import annotations

import numpy as np

from grader.diagnose import explain_dropout
from grader.frames import CaseRecord
from grader.report import TestResult
from grader.rubric import load_module

DIAGNOSTIC = "diagnostic/"
checks = load_module("checks")  # the handout's: ./grade.sh says what the server says
describe_quantity = checks.describe_quantity


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
            return result(False, f"your code never produced {describe_quantity(name)}")
        value = record.arrays.get(name)
        problem = checks.check(name, recorded["type"], value, want, test.rtol, test.atol)
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
