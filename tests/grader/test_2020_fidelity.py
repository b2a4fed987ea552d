"""Real 2020 handins grade as they did in 2020: on the course's Python 3.8 and numpy 1.18.1, with its
test files' import order, and with torch imported for the student's own tests."""

from __future__ import annotations

from dataclasses import replace

import pytest
from support.variants import REAL_2020

from grader import runtime
from grader.config import GraderConfig
from grader.grade import grade_handin
from grader.rubric import load_rubric
from grader.sandbox import Limits

RUBRIC = load_rubric()
CONFIG = GraderConfig(limits=replace(Limits(), wall_seconds=10), secret=b"fidelity")
BY_NAME = {variant.name: variant for variant in REAL_2020}


def failed(report) -> set[str]:
    cases = {test.name: test.case for test in RUBRIC.TESTS}
    return {cases[result.name] for result in report.tests if not result.passed}


def test_the_default_runtime_is_the_2020_course_environment():
    built = runtime.manifest("default")
    assert built["python"].startswith("3.8.") and (built["numpy"], built["scipy"]) == ("1.18.1", "1.4.1")
    assert RUBRIC.SERVER_RUNTIME == {
        "python": "3.8",
        "numpy": "1.18.1",
        "scipy": "1.4.1",
    }  # what ./grade.sh says


@pytest.mark.parametrize("variant", REAL_2020, ids=lambda variant: variant.name)
def test_a_kind_of_2020_handin_gets_what_it_got_in_2020(make_handin, variant):
    report = grade_handin(make_handin(variant.name, variant.edits), CONFIG)
    assert report.runtime["python"].startswith("3.8.") and report.runtime["numpy"] == "1.18.1"
    assert failed(report) == variant.failing, report.log
    assert report.total == variant.score(RUBRIC)
    assert all(variant.message in result.message for result in report.tests if not result.passed)


def test_torch_imported_anywhere_flags_the_submission_for_staff(make_handin):
    for name in ("torch_for_its_own_tests", "torch_in_graded_code"):
        report = grade_handin(make_handin(f"flag-{name}", BY_NAME[name].edits), CONFIG)
        assert report.flags == ["imports torch"]
    assert grade_handin(make_handin("no-flag"), CONFIG).flags == []


def test_a_parenthesized_starred_call_is_a_syntax_error_naming_the_python_that_refused_it(make_handin):
    """The same handin on the Python 3.11 runtime an assignment may name: since 3.9, f((*shape)) is a
    SyntaxError, and the message says which Python refused it, where, with the line and its caret."""
    handin = make_handin("starred-311", BY_NAME["parenthesized_starred_call"].edits)
    report = grade_handin(handin, replace(CONFIG, runtime="py311"))
    assert report.total == 0
    message = report.tests[0].message
    first, code, caret = message.splitlines()
    assert (
        first.startswith("your code raised SyntaxError on Python 3.11.")
        and "(mytorch/tensor.py, line" in first
    )
    assert code.strip() == "autograd_engine.backward(self.grad_fn, Tensor.ones((*self.shape)))"
    assert caret.strip() == "^" and len(caret) > len(code) - len(code.lstrip())
