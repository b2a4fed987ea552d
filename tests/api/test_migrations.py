"""Migrations build the schema from empty and tear it down again, on PostgreSQL and SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text
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


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_upgrading_a_course_in_progress_works_out_each_standing(backend, empty_postgres, tmp_path):
    """Submissions stored before lateness was worked out from the rules in force: after the upgrade,
    each has its late days against today's due date, its penalised score and the counted one marked."""
    url = empty_postgres if backend == "postgresql" else f"sqlite:///{tmp_path / 'course.db'}"
    alembic(url, "upgrade", "0006")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, display_name, email, nickname, role, active, created_at)"
                " VALUES (1, 'alice', '', '', 'n1', 'student', true, '2026-01-01T00:00:00+00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO assignments (id, slug, title, due_at, late_deadline_at, late_penalty_per_day,"
                " scoring, max_score, runtime, public_scoreboard, grading_secret, created_at)"
                " VALUES (1, 'hw', 'HW', '2026-01-10T00:00:00+00:00', '2026-01-20T00:00:00+00:00', 0.1,"
                " 'latest', 25, 'default', true, 'ab', '2026-01-01T00:00:00+00:00')"
            )
        )
        connection.execute(text("INSERT INTO blobs VALUES ('h', 1, 'x', '2026-01-01T00:00:00+00:00')"))
        for id_, version, created, total in ((1, 1, "2026-01-09", 25), (2, 2, "2026-01-11T06:00", 20)):
            connection.execute(
                text(
                    "INSERT INTO submissions (id, assignment_id, user_id, version, blob_sha256, size, status,"
                    " created_at, late_days, total, max_score, attempts, sweeps, log, error, runtime)"
                    " VALUES (:id, 1, 1, :version, 'h', 1, 'graded', :created, 0, :total, 25, 1, 0, '', '',"
                    " '{}')"
                ),
                {"id": id_, "version": version, "created": f"{created}+00:00", "total": total},
            )
    alembic(url, "upgrade", "head")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT version, late_days, score, counted FROM submissions ORDER BY version")
        ).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [(1, 0, 25.0, False), (2, 2, 16.0, True)]
