"""Shared fixtures: handins built from the handout and the reference; the test run's own database,
made only when a test asks for it (`pytest tests/grader` needs neither PostgreSQL nor Redis)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from support.database import (
    TEST_DATABASE,
    TEST_REDIS_URL,
    create_database,
    database_url,
    drop_database,
    empty_database,
)
from support.handins import build_handin

from grader.paths import HANDOUT_DIR
from grader.reference import build_reference_mytorch


def pytest_configure(config) -> None:
    """Points the service at the test run's own PostgreSQL database (made by `test_database`, when a
    test needs it) and Redis queues: test runs side by side never share rows or jobs."""
    os.environ["DATABASE_URL"] = database_url(TEST_DATABASE)
    os.environ["BROKER_URL"] = TEST_REDIS_URL
    os.environ["SECRET_KEY"] = "test-secret-key"
    os.environ.setdefault("SANDBOX", "bwrap")
    os.environ["GRADING_QUEUE"] = f"grading-{TEST_DATABASE}"
    os.environ["SWEEPER_QUEUE"] = f"sweeper-{TEST_DATABASE}"


@pytest.fixture(scope="session")
def test_database():
    """The test run's PostgreSQL database, empty; dropped at the end."""
    create_database(TEST_DATABASE)
    yield os.environ["DATABASE_URL"]
    from core.db import get_engine

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
def migrated(test_database) -> None:
    """The test database at the newest migration."""
    from support.service import migrate

    migrate(os.environ.copy())


@pytest.fixture(scope="module")
def live_service(migrated, tmp_path_factory):
    """The API and a Celery worker as real processes on PostgreSQL and Redis, on an empty database."""
    from support.service import running_service

    empty_database()

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with running_service(env, tmp_path_factory.mktemp("service-logs")) as service:
        yield service
