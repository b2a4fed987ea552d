"""Handins for the tests: tars built from a folder, the reference with edits, the smallest valid one."""

from __future__ import annotations

import io
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path


def tar_bytes(files: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tiny_handin() -> bytes:
    """A handin with the right shape (mytorch/ with a .py file); it scores 0 but is accepted."""
    return tar_bytes({"mytorch/__init__.py": b"", "mytorch/tensor.py": b"# nothing yet\n"})


def tar_folder(root: Path, arcname: str = "mytorch") -> bytes:
    """A handin.tar holding `root` as `arcname`/, as create_tarball.sh makes it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(root, arcname=arcname, filter=lambda info: None if "__pycache__" in info.name else info)
    return buffer.getvalue()


def build_handin(source: Path, folder: Path, edits: dict[str, Callable[[str], str]] | None = None) -> Path:
    """Writes folder/handin.tar: the mytorch folder `source` with some files' text changed by `edits`."""
    shutil.copytree(source, folder / "mytorch", ignore=shutil.ignore_patterns("__pycache__"))
    for relative, edit in (edits or {}).items():
        path = folder / "mytorch" / relative
        before = path.read_text()
        after = edit(before)
        assert after != before, f"edit of {relative} changed nothing"
        path.write_text(after)
    handin = folder / "handin.tar"
    handin.write_bytes(tar_folder(folder / "mytorch"))
    return handin
