"""Grading with a scripted sandbox (tests/support/fake_sandbox.py): what the grader makes of what a
sandbox reports, fast and without bubblewrap. The real sandbox is tested in test_grade.py."""

from __future__ import annotations

import pytest
from support.fake_sandbox import FakeSandbox, end, frame, record, run_result
from support.handins import tiny_handin

from grader.config import GraderConfig
from grader.grade import AUTOGRADER, LauncherFailed, grade_handin
from grader.rubric import load_expected, load_rubric

RUBRIC = load_rubric()
PUBLIC = GraderConfig(secret=None)  # the handout's published instances: their answers are on disk


def correct_frames(problem: str, wrong: str | None = None) -> bytes:
    """The frames of a correct handin for `problem`, one quantity `case/name` off by 1 if `wrong`."""
    answers = load_expected(problem)
    frames = b""
    for test in RUBRIC.tests_of(problem):
        arrays = {
            key.split("/", 1)[1]: value + (1 if key == wrong else 0)
            for key, value in answers.items()
            if key.startswith(f"{test.case}/") and "/diagnostic/" not in key
        }
        frames += frame(test.case, arrays)
    return frames


def stream(**problems: bytes) -> bytes:
    """The launcher's stream: each problem's frames, then its END record."""
    return b"".join(
        record(index, "result", problems[name]) + end(index) for index, name in enumerate(RUBRIC.PROBLEMS)
    )


@pytest.fixture
def handin(tmp_path):
    path = tmp_path / "handin.tar"
    path.write_bytes(tiny_handin())
    return path


def by_case(report) -> dict:
    cases = {test.name: test.case for test in RUBRIC.TESTS}
    return {cases[result.name]: result for result in report.tests}


def test_the_answers_reported_give_full_marks(handin):
    sandbox = FakeSandbox([run_result(stream(**{p: correct_frames(p) for p in RUBRIC.PROBLEMS}))])
    report = grade_handin(handin, PUBLIC, sandbox)
    assert report.total == 25 and report.sandbox == "fake"


def test_one_wrong_number_costs_its_test_and_says_where(handin):
    frames = {p: correct_frames(p) for p in RUBRIC.PROBLEMS}
    frames["adam"] = correct_frames("adam", wrong="big_model_adam/train2.linear1.dW")
    report = grade_handin(handin, PUBLIC, FakeSandbox([run_result(stream(**frames))]))
    assert report.total == 21
    message = by_case(report)["big_model_adam"].message
    assert message.startswith(
        "the gradient of Linear #1's weight in train step 3 (recorded as train2.linear1.dW) differs"
    )


def test_a_problem_cut_short_by_the_cpu_limit_is_said_so(handin):
    frames = {p: correct_frames(p) for p in RUBRIC.PROBLEMS}
    cut = record(0, "result", frames["adam"]) + end(0) + record(1, "result", frames["dropout"]) + end(1)
    killed = run_result(cut, exit_code=None, signal=9, killed_reason="cpu", cpu_seconds=20.1)
    report = grade_handin(handin, PUBLIC, FakeSandbox([killed]))
    assert report.total == 15 and report.kills == ["cpu"]
    assert by_case(report)["linear_batchnorm_relu_forward_train"].message == (
        "no result: stopped at the CPU time limit of 20 s, all your processes together "
        "(an infinite loop, or very slow code?)"
    )


def test_a_launcher_that_fails_is_the_graders_failure_not_a_zero(handin):
    failed = run_result(b"", exit_code=1)
    with pytest.raises(LauncherFailed):
        grade_handin(handin, PUBLIC, FakeSandbox([failed]))


def test_no_answer_is_mounted_in_the_sandbox_and_its_output_is_unbuffered(handin):
    sandbox = FakeSandbox([run_result(stream(**{p: correct_frames(p) for p in RUBRIC.PROBLEMS}))])
    grade_handin(handin, GraderConfig(secret=b"hidden"), sandbox)
    (request,) = sandbox.requests
    assert request.files[AUTOGRADER] and all(name.endswith(".py") for name in request.files[AUTOGRADER])
    assert request.env["PYTHONUNBUFFERED"] == "1"
