"""What the tests check of the sandbox on the host: a sandbox's cgroup left nothing behind; a built
runtime's interpreter, run on the host."""

from __future__ import annotations

from pathlib import Path


def processes_in(cgroup: str) -> list[str]:
    """Processes of the host in the sandbox's cgroup (named uniquely), whatever their uid."""
    found = []
    for path in Path("/proc").glob("[0-9]*/cgroup"):
        try:
            groups = path.read_text().splitlines()
        except OSError:  # gone meanwhile
            continue
        if any(line.endswith(f"/{cgroup}") for line in groups):
            found.append(path.parent.name)
    return found


def assert_gone(report) -> None:
    """The leftovers check looks at the sandbox's own cgroup only: removed, and nothing runs in it."""
    from grader.sandbox.cgroup import detect

    assert report.cgroup and report.cgroup.startswith("sb-")
    parents = detect().parents.values()
    assert not any((parent / report.cgroup).exists() for parent in parents)
    assert processes_in(report.cgroup) == []


def runtime_python(name: str = "default") -> tuple[Path, dict[str, str]]:
    """A built sandbox runtime's interpreter, and the variables it needs on the host (a runtime copied
    from pyenv finds its libpython through LD_LIBRARY_PATH)."""
    from grader import runtime

    folder = runtime.runtime_dir(name)
    return folder / "bin" / "python", runtime.environment(runtime.manifest(name), folder)
