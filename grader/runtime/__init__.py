"""Sandbox runtimes: pinned virtual environments, one per requirements file in this folder.

A runtime is built once (`python -m grader runtime build NAME`, run by `make runtime`)
and mounted read-only into every sandbox. Its interpreter must live where the
unprivileged sandbox user can read it (such as /usr/bin), never under /root.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from grader.errors import InfrastructureError
from grader.paths import RUNTIME_SPECS_DIR, RUNTIMES_DIR

MANIFEST = "runtime.json"
BASE_PYTHON_CANDIDATES = ("/usr/bin/python3.11", "/usr/local/bin/python3.11")


class RuntimeMissing(InfrastructureError):
    """The sandbox runtime is not built (or unknown): `make runtime` builds it."""


def available() -> list[str]:
    return sorted(path.stem for path in RUNTIME_SPECS_DIR.glob("*.txt"))


def runtime_dir(name: str, root: Path = RUNTIMES_DIR) -> Path:
    return root / name


def world_readable(path: Path) -> bool:
    """True if every folder above `path` is searchable and `path` readable by any user."""
    path = path.resolve()
    for parent in path.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


def default_base_python() -> str:
    for candidate in BASE_PYTHON_CANDIDATES:
        if Path(candidate).exists() and world_readable(Path(candidate)):
            return candidate
    raise RuntimeMissing(
        "no Python 3.11 readable by the sandbox user was found at "
        + " or ".join(BASE_PYTHON_CANDIDATES)
        + " (apt-get install python3.11)"
    )


def build(name: str = "default", root: Path = RUNTIMES_DIR, base_python: str | None = None) -> dict:
    """Creates (or re-creates) the runtime venv `root/name` and returns its manifest."""
    requirements = RUNTIME_SPECS_DIR / f"{name}.txt"
    if not requirements.exists():
        raise RuntimeMissing(f"unknown runtime {name!r}; known: {', '.join(available())}")
    base = base_python or default_base_python()
    target = runtime_dir(name, root)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([base, "-m", "venv", "--without-pip", str(target)], check=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(target / "bin" / "python"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            "-r",
            str(requirements),
        ],
        check=True,
    )
    probe = (
        "import json, platform, numpy, scipy; print(json.dumps({'python': platform.python_version(), "
        "'numpy': numpy.__version__, 'scipy': scipy.__version__}))"
    )
    versions = json.loads(
        subprocess.run(
            [str(target / "bin" / "python"), "-c", probe], check=True, capture_output=True, text=True
        ).stdout
    )
    manifest = {"name": name, **versions, "requirements": requirements.read_text()}
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2))
    os.chmod(target, 0o755)
    return manifest


def manifest(name: str = "default", root: Path = RUNTIMES_DIR) -> dict:
    """The manifest of a built runtime; RuntimeMissing with the command to build it otherwise."""
    path = runtime_dir(name, root) / MANIFEST
    if not path.exists():
        raise RuntimeMissing(
            f"sandbox runtime {name!r} is not built: run `make runtime` "
            f"(python -m grader runtime build {name})"
        )
    return json.loads(path.read_text())


def is_current(name: str = "default", root: Path = RUNTIMES_DIR) -> bool:
    """Whether the built runtime matches its requirements file (so `make runtime` can skip it)."""
    try:
        built = manifest(name, root)
    except RuntimeMissing:
        return False
    return built.get("requirements") == (RUNTIME_SPECS_DIR / f"{name}.txt").read_text()
