"""Password guessing is slowed down, without letting a guesser lock a student out, and odd input to
the login is a wrong login, never a server error."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.accounts import PASSWORD

from core.db import session_factory
from core.services import logins

LIMIT = 10  # the default LOGIN_ATTEMPTS_PER_MINUTE


def test_repeated_wrong_passwords_are_throttled(app_client, make_user):
    make_user("alice")
    statuses = [
        app_client.post("/api/v1/auth/login", json={"username": "alice", "password": "guess"}).status_code
        for _ in range(LIMIT)
    ]
    assert statuses == [401] * LIMIT
    throttled = app_client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "60"
    make_user("bob")
    assert (
        app_client.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD}).status_code
        == 200
    )


def try_login(password: str, address: str = "203.0.113.7") -> str:
    with session_factory()() as session:
        try:
            user = logins.attempt(session, "alice", password, address, LIMIT)
        except logins.TooManyAttempts:
            return "throttled"
        return "welcome" if user is not None else "wrong"


def test_concurrent_guesses_get_no_more_password_checks_than_the_limit(make_user):
    make_user("alice")
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(try_login, [f"guess {n}" for n in range(40)]))
    assert outcomes.count("wrong") <= LIMIT and outcomes.count("throttled") >= 40 - LIMIT


def test_guessing_from_one_address_does_not_lock_the_student_out_elsewhere(make_user):
    make_user("alice")
    assert {try_login(f"guess {n}") for n in range(LIMIT)} == {"wrong"}
    assert try_login(PASSWORD) == "throttled"
    assert try_login(PASSWORD, address="198.51.100.20") == "welcome"


def test_guessing_from_many_addresses_is_bounded_too(make_user):
    make_user("alice")
    spread = [try_login(f"guess {n}", address=f"10.0.{n // 250}.{n % 250}") for n in range(LIMIT * 5)]
    assert set(spread) == {"wrong"}
    assert try_login(PASSWORD, address="198.51.100.20") == "throttled"


@pytest.mark.parametrize("field", ["username", "password"])
@pytest.mark.parametrize("odd", ["\ud800", "a\x00b"])
def test_text_that_cannot_be_stored_is_a_wrong_login(app_client, make_user, field, odd):
    make_user("alice")
    credentials = {"username": "alice", "password": PASSWORD, field: odd}
    body = json.dumps(credentials)  # ASCII, with the lone surrogate as an escape, as a client may send it
    response = app_client.post(
        "/api/v1/auth/login", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize("field", ["username", "password"])
@pytest.mark.parametrize("odd", ["%ED%A0%80", "a%00b"])  # a lone surrogate in UTF-8, a NUL
def test_the_login_page_takes_such_text_as_a_wrong_login(app_client, make_user, field, odd):
    make_user("alice")
    token = app_client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    fields = {
        "username": "alice",
        "password": "correct+horse+battery+staple",
        field: odd,
        "csrf_token": token,
    }
    response = app_client.post(
        "/login",
        content="&".join(f"{key}={value}" for key, value in fields.items()),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert response.status_code in (400, 401), response.text
