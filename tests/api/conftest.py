"""Fixtures for the service: a migrated PostgreSQL database, clients for each role, the live service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from support.accounts import PASSWORD
from support.database import empty_database

from core.db import session_factory
from core.models import Assignment, Role
from core.services import users


@pytest.fixture
def db(migrated):
    """A session on an emptied database (every table truncated before the test)."""
    empty_database()
    with session_factory()() as session:
        yield session


@pytest.fixture
def assignment(db) -> Assignment:
    now = datetime.now(UTC)
    row = Assignment(
        slug="hw1-bonus",
        title="HW1 Bonus",
        due_at=now + timedelta(days=1),
        late_deadline_at=now + timedelta(days=3),
        late_penalty_per_day=0.1,
        max_submissions=5,
    )
    db.add(row)
    db.commit()
    return row


@pytest.fixture
def make_user(db):
    def make(username: str, role: Role = Role.student):
        user, _ = users.upsert_user(db, username, role=role, password=PASSWORD)
        token = users.issue_token(db, user, "test")
        db.commit()
        return user, token

    return make


@pytest.fixture
def app_client(db) -> TestClient:
    from api.main import create_app

    with TestClient(create_app()) as client:
        yield client


@pytest.fixture
def as_user(make_user, app_client):
    """as_user(username, role) -> a TestClient-like caller that sends that user's bearer token."""

    def client_for(username: str, role: Role = Role.student) -> TestClient:
        from api.main import create_app

        _, token = make_user(username, role)
        client = TestClient(create_app())
        client.headers["Authorization"] = f"Bearer {token}"
        return client

    return client_for


@pytest.fixture
def browser_of(app_client, make_user):
    """browser_of(username, role) -> (a cookie-session client logged in as them, their CSRF token)."""

    def login(username: str, role: Role = Role.student) -> tuple[TestClient, str]:
        from api.main import create_app

        make_user(username, role)
        client = TestClient(create_app())
        answer = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        return client, answer.json()["csrf_token"]

    return login
