"""Code of hostile handins that more than one test module attacks with."""

from __future__ import annotations

import tarfile
from pathlib import Path

from grader.paths import AUTOGRADER_DIR
from grader.rubric import load_rubric

# At import, finds the harness's frame on the call stack, writes frames holding the answers read from
# ANSWERS (a path pattern) into the results channel ahead of the harness, and exits: the attack that
# gave the starter code 25/25 while the sandbox could read the expected answers.
REPLAY_ANSWERS = """
import io, json, os, sys
import numpy as np
frame = sys._getframe()
while frame is not None and frame.f_code.co_name != "run_problem":
    frame = frame.f_back
problem = frame.f_locals["problem"]
cases = [case[0] if isinstance(case, (list, tuple)) else case for case in frame.f_locals["cases"]]
with np.load(ANSWERS.format(problem=problem, here=os.path.dirname(__file__))) as stored:
    answers = {key: stored[key] for key in stored.files}
for case in cases:
    arrays = {
        key.split("/", 1)[1]: value
        for key, value in answers.items()
        if key.startswith(case + "/") and "/diagnostic/" not in key
    }
    meta = {"case": case, "status": "ok", "quantities": [
        {"name": name, "graded": True, "type": "numpy.ndarray"} for name in arrays]}
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.array(json.dumps(meta)), **arrays)
    os.write(3, len(buffer.getvalue()).to_bytes(8, "big") + buffer.getvalue())
os._exit(0)
"""
MOUNTED_ANSWERS = "/autograder/outputs/{problem}.npz"  # where the sandbox once showed the handout's
CARRIED_ANSWERS = "{here}/answers/{problem}.npz"  # inside the handin's own mytorch/


def replaying_stub(make_handin, name: str, answers: str) -> Path:
    """The starter code with the replay at the top of mytorch/__init__.py."""
    edit = {"__init__.py": lambda text: f"ANSWERS = {answers!r}\n" + REPLAY_ANSWERS + text}
    return make_handin(name, edit, stub=True)


def carry_published_answers(handin: Path) -> Path:
    """Adds the handout's published answers to the handin, under mytorch/answers/."""
    with tarfile.open(handin, "a") as archive:
        for problem in load_rubric().PROBLEMS:
            archive.add(AUTOGRADER_DIR / "outputs" / f"{problem}.npz", f"mytorch/answers/{problem}.npz")
    return handin
