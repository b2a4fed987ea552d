"""The real PostgreSQL and Redis of the machine (CI starts them): a database and a queue of the test
run's own. Only the tests that need them use them: `pytest tests/grader` runs without either."""

from __future__ import annotations

import os

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
    return database_url(name)


def database_url(name: str) -> str:
    """The SQLAlchemy URL of database `name` on the server of TEST_DATABASE_ADMIN_URL."""
    admin = psycopg.conninfo.conninfo_to_dict(TEST_DATABASE_ADMIN_URL)
    return (
        f"postgresql+psycopg://{admin.get('user', 'postgres')}@{admin.get('host')}:"
        f"{admin.get('port', 5432)}/{name}"
    )


def drop_database(name: str) -> None:
    """Drops database `name`, closing whatever connections are still open on it."""
    with psycopg.connect(TEST_DATABASE_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_database() -> None:
    """Truncates every table of the test database (each module of service tests starts clean), and
    purges the test run's queue: a job left there names a submission id that a later module reuses."""
    from worker.celery_app import app

    app.control.purge()
    from sqlalchemy import text

    from core.db import session_factory
    from core.models import Base

    with session_factory()() as session:
        tables = ", ".join(table.name for table in reversed(Base.metadata.sorted_tables))
        session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        session.commit()
