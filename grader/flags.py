"""What course staff should know about a handin, read from its source on the trusted side.

`imports torch`: the handout allows torch only for the student's own tests; the grader lets it be
imported and refuses its use (handout/autograder/hw1_bonus_autograder/no_torch.py), and staff may
want to look. Read from the unpacked files, never from what the sandboxed code reports.
"""

from __future__ import annotations

import re
from pathlib import Path

TORCH_IMPORT = re.compile(rb"^[ \t]*(?:import[ \t]+torch\b|from[ \t]+torch\b)", re.MULTILINE)
MAX_READ = 1 << 20  # per file: a handin's sources are a few kilobytes each


def flags_of(root: Path, files: list[str]) -> list[str]:
    """The flags of the handin unpacked under `root` (its relative `files`)."""
    found = []
    for name in files:
        if name.endswith(".py"):
            with open(root / name, "rb") as handle:
                if TORCH_IMPORT.search(handle.read(MAX_READ)):
                    found.append("imports torch")
                    break
    return found
