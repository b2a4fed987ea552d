"""Where the grader finds its files (the handout's autograder, the harness, the runtimes)."""

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
HANDOUT_DIR = PROJECT_DIR / "handout"
AUTOGRADER_DIR = HANDOUT_DIR / "autograder" / "hw1_bonus_autograder"
HARNESS_DIR = Path(__file__).resolve().parent / "harness"
RUNTIME_SPECS_DIR = Path(__file__).resolve().parent / "runtime"
RUNTIMES_DIR = Path(os.environ.get("RUNTIMES_DIR", PROJECT_DIR / ".runtime"))
