"""The results stream of the launcher is untrusted: it is split by problem, its caps are applied
again, and a problem without an end record ends the way the whole sandbox did."""

from __future__ import annotations

import json

import pytest
from support.fake_sandbox import run_result

from grader.launch import demultiplex
from grader.sandbox import Limits

LIMITS = Limits(output_bytes=10, result_bytes=20)
ENDED = {
    "exit_code": 0,
    "signal": None,
    "killed_reason": None,
    "cpu_seconds": 0.25,
    "wall_seconds": 0.5,
    "stdout_truncated": False,
    "stderr_truncated": False,
}


def record(index: int, kind: int, body: bytes) -> bytes:
    return bytes([index, kind]) + len(body).to_bytes(4, "big") + body


def test_interleaved_records_are_split_by_problem_with_their_endings():
    stream = (
        record(1, 0, b"frames-1")
        + record(0, 2, b"oops")
        + record(0, 0, b"frames-0")
        + record(1, 1, b"hello")
        + record(0, 3, json.dumps(ENDED | {"exit_code": 1}).encode())
        + record(
            1, 3, json.dumps(ENDED | {"killed_reason": "wall-clock", "exit_code": None, "signal": 9}).encode()
        )
    )
    (first, second), problems = demultiplex(run_result(stream), 2, LIMITS)
    assert (first.result, first.stderr, first.exit_code, first.cpu_seconds) == (b"frames-0", b"oops", 1, 0.25)
    assert (second.result, second.stdout, second.killed_reason, second.signal) == (
        b"frames-1",
        b"hello",
        "wall-clock",
        9,
    )
    assert problems == []


def test_caps_hold_whatever_the_stream_says():
    stream = record(0, 1, b"x" * 50) + record(0, 0, b"y" * 50) + record(0, 3, json.dumps(ENDED).encode())
    (run,), _ = demultiplex(run_result(stream), 1, LIMITS)
    assert run.stdout == b"x" * 10 and run.stdout_truncated
    assert run.killed_reason == "result-too-large" and len(run.result) == 20


def test_a_problem_without_an_end_record_ends_as_the_sandbox_did():
    stream = record(0, 0, b"half a frame") + record(1, 3, json.dumps(ENDED).encode())
    (cut, finished), _ = demultiplex(
        run_result(stream, killed_reason="wall-clock", exit_code=None, signal=9), 2, LIMITS
    )
    assert (cut.killed_reason, cut.signal, cut.result) == ("wall-clock", 9, b"half a frame")
    assert (finished.killed_reason, finished.exit_code) == (None, 0)


def test_garbled_records_and_forged_endings_are_ignored():
    forged = json.dumps(ENDED | {"killed_reason": "rm -rf", "extra": 1}).encode()
    stream = (
        record(0, 1, b"ok") + record(0, 3, forged) + record(7, 0, b"no such problem") + record(0, 1, b"lost")
    )
    (run,), problems = demultiplex(run_result(stream, exit_code=3), 1, LIMITS)
    assert run.stdout == b"ok" and run.exit_code == 3  # no valid end record: the sandbox's ending
    assert problems == [
        "an unreadable end record of problem 0 was ignored",
        "the results stream is garbled; what follows was ignored",
    ]


def test_nothing_after_a_problems_end_record_is_taken():
    stream = record(0, 3, json.dumps(ENDED).encode()) + record(0, 0, b"late frames")
    (run,), _ = demultiplex(run_result(stream), 1, LIMITS)
    assert run.result == b""


@pytest.mark.parametrize(
    "forged",
    [
        b"[" * 200_000,
        json.dumps(ENDED | {"cpu_seconds": float("nan")}).encode(),
        json.dumps(ENDED | {"exit_code": True}).encode(),
    ],
    ids=["deeply-nested", "not-a-number", "a-bool-for-a-number"],
)
def test_end_records_that_are_not_plain_figures_are_ignored(forged):
    (run,), problems = demultiplex(run_result(record(0, 3, forged), exit_code=4), 1, LIMITS)
    assert run.exit_code == 4 and problems == ["an unreadable end record of problem 0 was ignored"]
