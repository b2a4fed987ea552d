"""Shared fixtures: handins built from the handout and the reference, the built sandbox runtime."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from tests_support import (
    TEST_DATABASE,
    TEST_REDIS_URL,
    build_handin,
    create_database,
    drop_database,
    empty_database,
)

from grader.paths import HANDOUT_DIR
from grader.reference import build_reference_mytorch


def pytest_configure(config) -> None:
    """Points the service at a new PostgreSQL database and a Redis database of its own."""
    os.environ["DATABASE_URL"] = create_database(TEST_DATABASE)
    os.environ["BROKER_URL"] = TEST_REDIS_URL
    os.environ["SECRET_KEY"] = "test-secret-key"
    os.environ.setdefault("SANDBOX", "bwrap")
    os.environ["GRADING_QUEUE"] = f"grading-{TEST_DATABASE}"  # test runs side by side never share jobs
    os.environ["SWEEPER_QUEUE"] = f"sweeper-{TEST_DATABASE}"


def pytest_unconfigure(config) -> None:
    from api.db import get_engine

    get_engine().dispose()
    drop_database(TEST_DATABASE)


@pytest.fixture(scope="session")
def reference_mytorch(tmp_path_factory) -> Path:
    """The handout's mytorch with the reference's three bonus parts pasted in."""
    return build_reference_mytorch(HANDOUT_DIR, tmp_path_factory.mktemp("reference"))


@pytest.fixture(scope="session")
def make_handin(tmp_path_factory, reference_mytorch) -> Callable[..., Path]:
    """Builds a handin.tar from the reference with some files' text changed: make_handin(name, edits)."""

    def build(name: str, edits: dict[str, Callable[[str], str]] | None = None, stub: bool = False) -> Path:
        source = HANDOUT_DIR / "mytorch" if stub else reference_mytorch
        return build_handin(source, tmp_path_factory.mktemp(name), edits)

    return build


@pytest.fixture(scope="session")
def migrated() -> None:
    """The test database at the newest migration."""
    from service import migrate

    migrate(os.environ.copy())


@pytest.fixture(scope="module")
def live_service(migrated, tmp_path_factory):
    """The API and a Celery worker as real processes on PostgreSQL and Redis, on an empty database."""
    from service import running_service

    empty_database()

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with running_service(env, tmp_path_factory.mktemp("service-logs")) as service:
        yield service
