"""Small helpers shared by test modules."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import psycopg

# The real PostgreSQL and Redis of the machine (CI starts them): a fresh database per test run.
TEST_DATABASE_ADMIN_URL = os.environ.get(
    "TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
TEST_DATABASE = f"hw1grader_test_{os.getpid()}"


def create_database(name: str) -> str:
    """Creates an empty database `name` next to TEST_DATABASE_ADMIN_URL; returns its SQLAlchemy URL."""
    with psycopg.connect(TEST_DATABASE_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    admin = psycopg.conninfo.conninfo_to_dict(TEST_DATABASE_ADMIN_URL)
    return (
        f"postgresql+psycopg://{admin.get('user', 'postgres')}@{admin.get('host')}:"
        f"{admin.get('port', 5432)}/{name}"
    )


def drop_database(name: str) -> None:
    """Drops database `name`, closing whatever connections are still open on it."""
    with psycopg.connect(TEST_DATABASE_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


def empty_database() -> None:
    """Truncates every table of the test database (each module of service tests starts clean), and
    purges the test run's queue: a job left there names a submission id that a later module reuses."""
    from worker.celery_app import app

    app.control.purge()
    from sqlalchemy import text

    from api.db import session_factory
    from api.models import Base

    with session_factory()() as session:
        tables = ", ".join(table.name for table in reversed(Base.metadata.sorted_tables))
        session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        session.commit()


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
