"""CSRF protection for cookie sessions: a secret per session, sent back in forms and in a header."""

from __future__ import annotations

import secrets

from fastapi import HTTPException, Request, status

SESSION_KEY = "csrf"
HEADER = "X-CSRF-Token"
FORM_FIELD = "csrf_token"


def csrf_token(request: Request) -> str:
    """This session's token (made on first use); pages put it in every form and in a meta tag."""
    token = request.session.get(SESSION_KEY)
    if token is None:
        token = request.session[SESSION_KEY] = secrets.token_urlsafe(32)
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get(SESSION_KEY)
    if not expected or not submitted or not secrets.compare_digest(expected, submitted):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "invalid or missing CSRF token: reload the page and try again"
        )
