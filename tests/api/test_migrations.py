"""Migrations build the schema from empty and tear it down again, on PostgreSQL and SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect
from support.database import TEST_DATABASE_ADMIN_URL
from support.service import PROJECT

from core.models import Base

ALEMBIC = str(Path(sys.executable).parent / "alembic")


def alembic(url: str, *args: str) -> None:
    subprocess.run(
        [ALEMBIC, *args],
        cwd=PROJECT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
        timeout=120,
    )


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.fixture
def empty_postgres():
    name = f"hw1grader_migrations_{os.getpid()}"
    with psycopg.connect(TEST_DATABASE_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
    yield url
    with psycopg.connect(TEST_DATABASE_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_upgrade_from_empty_then_downgrade_to_empty(backend, empty_postgres, tmp_path):
    url = empty_postgres if backend == "postgresql" else f"sqlite:///{tmp_path / 'migrations.db'}"
    alembic(url, "upgrade", "head")
    assert tables(url) == set(Base.metadata.tables)
    alembic(url, "downgrade", "base")
    assert tables(url) == set()


def test_models_and_migrations_agree(empty_postgres):
    """`alembic check`: the models need no migration that is not written yet."""
    alembic(empty_postgres, "upgrade", "head")
    alembic(empty_postgres, "check")
