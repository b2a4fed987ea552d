"""Sandbox runtimes: pinned Python environments, one per requirements file in this folder.

A runtime is built once (`python -m grader runtime build NAME`, run by `make runtime`) into
RUNTIMES_DIR/NAME and mounted read-only at /runtime in every sandbox; the trusted side runs the
reference on the same interpreter. Each requirements file names its Python on a first line
`# python: X.Y`; the runtime is built on that interpreter, found where the sandbox user can read it
(/usr/bin, /usr/local/bin: the runtime is a venv on it) or in pyenv's versions (the interpreter's
prefix is then copied into the runtime, as pyenv keeps it under /root, out of a sandbox's reach).

`default` is the 2020 course's environment (Python 3.8, numpy 1.18.1, scipy 1.4.1): 2020 code uses
names numpy 1.24 removed and syntax Python 3.9 refused. `py311` and `numpy2` can be named by an
assignment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from grader.errors import InfrastructureError
from grader.paths import RUNTIME_SPECS_DIR, RUNTIMES_DIR

MANIFEST = "runtime.json"
SEARCHED = ("/usr/bin", "/usr/local/bin")
LEFT_OUT = ("test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "site-packages")
PROBE = (
    "import json, platform, numpy, scipy; print(json.dumps({'python': platform.python_version(), "
    "'numpy': numpy.__version__, 'scipy': scipy.__version__}))"
)


class RuntimeMissing(InfrastructureError):
    """The sandbox runtime is not built, or cannot be: `make runtime` builds it, or says what is missing."""


def available() -> list[str]:
    return sorted(path.stem for path in RUNTIME_SPECS_DIR.glob("*.txt"))


def runtime_dir(name: str, root: Path = RUNTIMES_DIR) -> Path:
    return root / name


def requirements_file(name: str) -> Path:
    path = RUNTIME_SPECS_DIR / f"{name}.txt"
    if not path.exists():
        raise RuntimeMissing(f"unknown runtime {name!r}; known: {', '.join(available())}")
    return path


def python_version(name: str) -> str:
    """The X.Y its requirements file names (`# python: X.Y`)."""
    match = re.search(r"^# python: (\d+\.\d+)$", requirements_file(name).read_text(), re.MULTILINE)
    if not match:
        raise RuntimeMissing(f"grader/runtime/{name}.txt names no Python (a line '# python: X.Y')")
    return match[1]


def world_readable(path: Path) -> bool:
    """True if every folder above `path` is searchable and `path` readable by any user."""
    path = path.resolve()
    for parent in path.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


def pyenv_versions() -> Path | None:
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        root = ""
    folder = Path(root or Path.home() / ".pyenv") / "versions"
    return folder if folder.is_dir() else None


def find_python(version: str) -> str:
    """An interpreter of Python `version` (X.Y): a system one the sandbox user can read, else pyenv's."""
    for folder in SEARCHED:
        candidate = Path(folder) / f"python{version}"
        if candidate.exists() and world_readable(candidate):
            return str(candidate)
    versions = pyenv_versions()
    if versions is not None:
        found = sorted(
            versions.glob(f"{version}.*/bin/python{version}"),
            key=lambda path: [int(part) for part in path.parent.parent.name.split(".") if part.isdigit()],
        )
        if found:
            return str(found[-1])
    raise RuntimeMissing(
        f"no Python {version} found in {', '.join(SEARCHED)} or pyenv's versions: install one "
        f"(`pyenv install {version}`, or the distribution's python{version}), or give --base-python"
    )


def prefix_of(python: str) -> Path:
    return Path(python).resolve().parent.parent


def library_env(prefix: Path) -> dict[str, str]:
    """What an interpreter of `prefix` needs to find its shared libpython once moved (pyenv links it to
    its own absolute path, which a sandbox cannot see)."""
    return {"LD_LIBRARY_PATH": str(prefix / "lib")} if any(prefix.glob("lib/libpython*.so*")) else {}


def build(name: str = "default", root: Path = RUNTIMES_DIR, base_python: str | None = None) -> dict:
    """Creates (or re-creates) the runtime `root/name` and returns its manifest."""
    requirements = requirements_file(name)
    version = python_version(name)
    base = base_python or find_python(version)
    target = runtime_dir(name, root)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if world_readable(Path(base)) and Path(base).is_relative_to("/usr"):  # mounted in every sandbox
        venv(base, target)
        pip = [sys.executable, "-m", "pip", "--python", str(target / "bin" / "python"), "install"]
        relative_env = {}
    else:
        pip = [base, "-m", "pip", "install", "--target", str(copy_prefix(base, version, target))]
        relative_env = {"LD_LIBRARY_PATH": "lib"} if library_env(target) else {}
    install(pip, requirements, library_env(prefix_of(base)))
    for path in [target, *target.rglob("*")]:  # the sandbox user reads it all
        path.chmod(path.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))
    env = {**os.environ, **{key: str(target / value) for key, value in relative_env.items()}}
    versions = json.loads(
        subprocess.run(
            [str(target / "bin" / "python"), "-c", PROBE], check=True, capture_output=True, text=True, env=env
        ).stdout
    )
    manifest = {"name": name, **versions, "env": relative_env, "requirements": requirements.read_text()}
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def venv(base: str, target: Path) -> None:
    """A venv on a system interpreter (it lives in /usr, which every sandbox sees)."""
    subprocess.run([base, "-m", "venv", "--without-pip", str(target)], check=True)


def copy_prefix(base: str, version: str, target: Path) -> Path:
    """A copy of the interpreter's prefix: the binary, libpython, the standard library (no tests, no
    GUI); its site-packages, empty."""
    prefix = prefix_of(base)
    (target / "bin").mkdir(parents=True)
    shutil.copy2(Path(base).resolve(), target / "bin" / f"python{version}")
    for alias in ("python", "python3"):
        (target / "bin" / alias).symlink_to(f"python{version}")
    (target / "lib").mkdir()
    for library in prefix.glob("lib/libpython*.so*"):
        shutil.copy2(library, target / "lib" / library.name, follow_symlinks=False)
    shutil.copytree(
        prefix / "lib" / f"python{version}",
        target / "lib" / f"python{version}",
        ignore=lambda folder, names: [name for name in names if name in LEFT_OUT],
        symlinks=True,
    )
    site_packages = target / "lib" / f"python{version}" / "site-packages"
    site_packages.mkdir()
    return site_packages


def install(pip: list[str], requirements: Path, env: dict[str, str]) -> None:
    """The pinned packages, as wheels only, with `pip` (the copied interpreter's own pip: the tags
    it asks for are the runtime's)."""
    options = ["--quiet", "--disable-pip-version-check", "--only-binary=:all:", "-r", str(requirements)]
    result = subprocess.run([*pip, *options], env={**os.environ, **env}, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeMissing(f"installing {requirements.name} failed: {result.stderr.strip()[-2000:]}")


def manifest(name: str = "default", root: Path = RUNTIMES_DIR) -> dict:
    """The manifest of a built runtime; RuntimeMissing with the command to build it otherwise."""
    path = runtime_dir(name, root) / MANIFEST
    if not path.exists():
        raise RuntimeMissing(
            f"sandbox runtime {name!r} is not built: run `make runtime` "
            f"(python -m grader runtime build {name})"
        )
    return json.loads(path.read_text())


def environment(built: dict, where: Path | str) -> dict[str, str]:
    """The variables the runtime's interpreter needs, for the runtime mounted (or found) at `where`."""
    return {key: f"{where}/{value}" for key, value in built.get("env", {}).items()}


def is_current(name: str = "default", root: Path = RUNTIMES_DIR) -> bool:
    """Whether the built runtime matches its requirements file (so `make runtime` can skip it)."""
    try:
        built = manifest(name, root)
    except RuntimeMissing:
        return False
    return built.get("requirements") == requirements_file(name).read_text()
