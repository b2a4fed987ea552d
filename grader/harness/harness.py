"""Runs one problem's rubric cases against a student's mytorch and streams the raw numbers out.

This file runs INSIDE the sandbox, on the pinned runtime: standard library and numpy only,
never the reference solution or the comparison code. Nothing here decides a score; the trusted
side re-checks everything it sends. `launcher.py` forks a process per problem that calls
`run_problem`.

For each case it writes one frame to fd 3: an 8-byte big-endian length, then an
.npz (no pickles) holding the recorded arrays and a JSON `__meta__` entry.
The student's own prints go to stderr, never into the results channel.
"""

import io
import json
import os
import platform
import re
import sys
import traceback

import channel as results

MAX_TRACEBACK_FRAMES = 8
MISSING_ATTRIBUTE = re.compile(r"module '([\w.]+)' has no attribute '\w+'")


def open_channel():
    """The results channel; stdout is pointed at stderr so prints cannot reach it."""
    channel = os.fdopen(results.FD, "wb", buffering=0)
    os.dup2(2, 1)
    return channel


def describe(error, submission_dir):
    """A short traceback, paths relative to the handin, and the student's file and line."""
    frames = traceback.extract_tb(error.__traceback__)
    lines = []
    for frame in frames[-MAX_TRACEBACK_FRAMES:]:
        filename = frame.filename
        if filename.startswith(submission_dir + os.sep):
            filename = os.path.relpath(filename, submission_dir)
        else:
            filename = os.path.basename(filename)
        lines.append(f'  File "{filename}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line}")
    where = None
    for frame in reversed(frames):  # the deepest frame in the student's code
        if frame.filename.startswith(submission_dir + os.sep):
            where = {"file": os.path.relpath(frame.filename, submission_dir), "line": frame.lineno}
            break
    where = missing_definition(error, submission_dir) or where
    message = "".join(traceback.format_exception_only(type(error), error)).strip()
    if isinstance(error, SyntaxError):
        where, message = syntax_error(error, submission_dir) or (where, message)
    return {"error": message[:2000], "traceback": "\n".join(lines)[:4000], "where": where}


def missing_definition(error, submission_dir):
    """For a name that a module of the student's lacks ("module 'mytorch.nn.functional' has no attribute
    'Dropout'", or "cannot import name"): that module's file, at its end, where the name must be
    added, rather than the line that used it."""
    match = MISSING_ATTRIBUTE.fullmatch(str(error))
    module = error.name if isinstance(error, ImportError) else match and match.group(1)
    filename = getattr(sys.modules.get(module or ""), "__file__", None) or ""
    if not filename.startswith(submission_dir + os.sep):
        return None
    with open(filename, "rb") as source:
        lines = source.read().count(b"\n")
    return {"file": os.path.relpath(filename, submission_dir), "line": max(lines, 1)}


def syntax_error(error, submission_dir):
    """For a SyntaxError in the student's file: where it is, and the message with the Python that
    refused it (code valid on one version is not on another) and its offending line with the caret."""
    if not (error.filename or "").startswith(submission_dir + os.sep):
        return None
    where = {"file": os.path.relpath(error.filename, submission_dir), "line": error.lineno or 1}
    message = f"{type(error).__name__} on Python {platform.python_version()}: {error.msg}"
    if error.text:
        code = error.text.rstrip("\n")
        indent = len(code) - len(code.lstrip())
        caret = " " * max((error.offset or 1) - 1 - indent, 0) + "^"
        message += "\n    " + code.strip() + "\n    " + caret
    return where, message


def run_case(function, seed, numpy):
    """Calls one case on the instance drawn from `seed`; returns (arrays, meta)."""
    arrays = {}
    quantities = []

    def record(name, value, graded=True):
        kind = type(value)
        entry = {"name": str(name), "graded": bool(graded), "type": f"{kind.__module__}.{kind.__qualname__}"}
        if isinstance(value, numpy.ndarray) and value.dtype.kind in "biuf":
            arrays[entry["name"]] = numpy.array(value, copy=True)
        quantities.append(entry)

    meta = {"status": "ok", "quantities": quantities}
    try:
        function(record, seed)
    except BaseException as error:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are the student's too
        meta.update(status="error", **describe(error, SUBMISSION_DIR))
    return arrays, meta


def write_frame(channel, numpy, case, arrays, meta):
    buffer = io.BytesIO()
    meta = dict(meta, case=case)
    numpy.savez(buffer, __meta__=numpy.array(json.dumps(meta)), **arrays)
    payload = buffer.getvalue()
    channel.write(len(payload).to_bytes(8, "big") + payload)


def run_problem(autograder_dir, submission_dir, problem, cases):
    """Runs each [case, seed] of `cases` and writes its frame to fd 3, then ends the process."""
    global SUBMISSION_DIR
    SUBMISSION_DIR = submission_dir
    channel = open_channel()
    sys.path[:0] = [autograder_dir, SUBMISSION_DIR]
    import no_torch  # the autograder's: torch may be imported, never used, as in the local autograder
    import numpy

    no_torch.install()

    try:
        module = __import__(f"test_{problem}")
        import_failure = None
    except BaseException as error:  # noqa: BLE001
        module = None
        import_failure = dict(status="error", quantities=[], **describe(error, SUBMISSION_DIR))
    for case, seed in cases:
        if module is None:
            arrays, meta = {}, import_failure
        else:
            arrays, meta = run_case(getattr(module, case), seed, numpy)
        write_frame(channel, numpy, case, arrays, meta)
    channel.close()
    sys.stdout.flush()
    sys.stderr.flush()  # block-buffered on Python 3.8 (the 2020 runtime) when not a terminal
    os._exit(0)  # skip interpreter teardown: student atexit hooks cannot add frames after the last one


SUBMISSION_DIR = ""
