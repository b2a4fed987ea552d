"""Shared fixtures: handins built from the handout and the reference, the built sandbox runtime."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from tests_support import TEST_DATABASE, TEST_DATABASE_ADMIN_URL, TEST_REDIS_URL

from grader.paths import HANDOUT_DIR
from grader.reference import build_reference_mytorch


def pytest_configure(config) -> None:
    """Points the service at a new PostgreSQL database and a Redis database of its own."""
    with psycopg.connect(TEST_DATABASE_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}"')
        connection.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
    admin = psycopg.conninfo.conninfo_to_dict(TEST_DATABASE_ADMIN_URL)
    os.environ["DATABASE_URL"] = (
        f"postgresql+psycopg://{admin.get('user', 'postgres')}@{admin.get('host')}:"
        f"{admin.get('port', 5432)}/{TEST_DATABASE}"
    )
    os.environ["BROKER_URL"] = TEST_REDIS_URL
    os.environ["SECRET_KEY"] = "test-secret-key"
    os.environ.setdefault("SANDBOX", "bwrap")
    os.environ["GRADING_QUEUE"] = f"grading-{TEST_DATABASE}"  # test runs side by side never share jobs


def pytest_unconfigure(config) -> None:
    from api.db import get_engine

    get_engine().dispose()
    with psycopg.connect(TEST_DATABASE_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')


def tar_folder(root: Path, arcname: str = "mytorch") -> bytes:
    """A handin.tar holding `root` as `arcname`/, as create_tarball.sh makes it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(root, arcname=arcname, filter=lambda info: None if "__pycache__" in info.name else info)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def reference_mytorch(tmp_path_factory) -> Path:
    """The handout's mytorch with the reference's three bonus parts pasted in."""
    return build_reference_mytorch(HANDOUT_DIR, tmp_path_factory.mktemp("reference"))


@pytest.fixture(scope="session")
def make_handin(tmp_path_factory, reference_mytorch) -> Callable[..., Path]:
    """Builds a handin.tar from the reference with some files' text changed: make_handin(name, edits)."""

    def build(name: str, edits: dict[str, Callable[[str], str]] | None = None, stub: bool = False) -> Path:
        folder = tmp_path_factory.mktemp(name)
        source = HANDOUT_DIR / "mytorch" if stub else reference_mytorch
        import shutil

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

    return build


@pytest.fixture(scope="session")
def migrated() -> None:
    """The test database at the newest migration."""
    from service import migrate

    migrate(os.environ.copy())


@pytest.fixture(scope="module")
def live_service(migrated, tmp_path_factory):
    """The API and a Celery worker as real processes on PostgreSQL and Redis."""
    from service import running_service

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with running_service(env, tmp_path_factory.mktemp("service-logs")) as service:
        yield service
