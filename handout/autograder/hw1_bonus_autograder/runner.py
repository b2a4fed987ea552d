#!/usr/bin/env python3
"""Local autograder for HW1 Bonus: runs every test against your mytorch and prints your score.

Run it from the handout folder with `./grade.sh 1b`. It needs only numpy: the
expected answers are stored in `outputs/`.
"""

import importlib
import json
import platform
import sys
import textwrap
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]  # these tests, then the folder holding mytorch/

import checks  # noqa: E402
import no_torch  # noqa: E402
import numpy as np  # noqa: E402
from rubric import MAX_SCORE, PROBLEMS, SEED, SERVER_RUNTIME, TESTS  # noqa: E402

no_torch.install()  # as on the server: your code may import torch (for your tests), not use it


class Mismatch(Exception):
    """A quantity your code computed differs from the expected one."""


def expected_answers(problem):
    with np.load(HERE / "outputs" / f"{problem}.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def checker(test, expected):
    """The `record` function handed to a case: checks each quantity as soon as it is computed, with
    the checks the server uses (checks.py), and shows both arrays (these answers are published)."""

    def record(name, value, graded=True):
        if not graded:
            return
        want = expected[f"{test.case}/{name}"]
        numeric = isinstance(value, np.ndarray) and value.dtype.kind in "biuf"
        kind = checks.type_name(value)
        problem = checks.check(name, kind, value if numeric else None, want, test.rtol, test.atol)
        if problem:
            yours = np.array2string(value, precision=6, threshold=12) if numeric else repr(value)[:200]
            theirs = np.array2string(want, precision=6, threshold=12)
            raise Mismatch(f"{problem}\n  yours:    {yours}\n  expected: {theirs}")

    return record


def run_test(test, module, expected):
    """Runs one test; returns (passed, message)."""
    try:
        getattr(module, test.case)(checker(test, expected), SEED)
    except Mismatch as error:
        return False, str(error)
    except Exception as error:
        traceback.print_exc()
        return False, error_text(error)
    return True, ""


def error_text(error):
    """The error as Python says it; a SyntaxError with its file, line and caret under that."""
    text = "".join(traceback.format_exception_only(type(error), error)).rstrip()
    if not isinstance(error, SyntaxError):
        return text
    *where, message = text.splitlines()
    return "\n".join([message, *where])


# Failures that may come from this machine's Python or numpy rather than from the code: syntax that
# Python 3.9 refused (f((*shape))), names numpy 1.24 removed (np.float, np.int, ...).
VERSION_SIGNS = ("SyntaxError", "module 'numpy' has no attribute")


def versions_note(messages):
    """Which versions graded here and which grade on the server; a warning if a failure may be theirs."""
    here = f"Python {platform.python_version()} with numpy {np.__version__}"
    server = "Python {python} with numpy {numpy} and scipy {scipy}".format(**SERVER_RUNTIME)
    note = f"Graded here on {here}; the server grades on {server}."
    if any(sign in message for message in messages for sign in VERSION_SIGNS):
        note += (
            "\nnote: a failure above may come from this machine's versions, not from your code: "
            f"check it on {server} (or upload it: the server grades on those)."
        )
    return note


def main():
    scores, messages = {}, []
    for problem in PROBLEMS:
        try:
            module = importlib.import_module(f"test_{problem}")
            import_error = None
        except Exception as error:
            traceback.print_exc()
            module, import_error = None, f"cannot import your code: {error_text(error)}"
        expected = expected_answers(problem)
        for test in (t for t in TESTS if t.problem == problem):
            passed, message = (False, import_error) if module is None else run_test(test, module, expected)
            scores[test.autolab] = test.points if passed else 0
            status = "PASS" if passed else "FAIL"
            line = f"{status} {test.name}: {scores[test.autolab]}/{test.points}"
            print(line if passed else f"{line}\n{textwrap.indent(message, '     ')}", flush=True)
            messages += [] if passed else [message]

    print(versions_note(messages))
    total = sum(scores.values())
    print(f"Total score: {total}/{MAX_SCORE}")
    print(json.dumps({"scores": scores}))


if __name__ == "__main__":
    main()
