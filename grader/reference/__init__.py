"""The private reference solution of the three bonus parts, and the reference mytorch built from it.

The reference mytorch is the handout's (its HW1P1 parts are given to students
and are the reference for them) with these three parts put in, the way a student
does it: `adam.py` and `batchnorm.py` replace the stubs and `Dropout` is appended
to `nn/functional.py`. It never enters a sandbox or the handout.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
OVERLAY = {
    "optim/adam.py": HERE / "adam.py",
    "nn/batchnorm.py": HERE / "batchnorm.py",
}
DROPOUT_FUNCTION = HERE / "dropout_function.py"


def install_bonus(mytorch_dir: Path) -> None:
    """Puts the reference Adam, BatchNorm1d and Dropout into a copy of the handout's mytorch."""
    for relative, source in OVERLAY.items():
        shutil.copyfile(source, mytorch_dir / relative)
    functional = mytorch_dir / "nn" / "functional.py"
    functional.write_text(functional.read_text() + "\n\n" + DROPOUT_FUNCTION.read_text())


def build_reference_mytorch(handout_dir: Path, dest: Path) -> Path:
    """Copies the handout's mytorch to `dest/mytorch` with the reference bonus parts in it."""
    target = dest / "mytorch"
    shutil.copytree(handout_dir / "mytorch", target, ignore=shutil.ignore_patterns("__pycache__"))
    install_bonus(target)
    return target
