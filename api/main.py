"""The FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

from api.config import get_settings
from api.limits import BodySizeLimit
from api.routes import assignments, auth, health, staff, submissions

API_PREFIX = "/api/v1"


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="HW1 Bonus grader",
        version="1.0",
        description="Upload handin.tar, get it graded in a sandbox, see the scores.",
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="hw1grader_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes)
    for module in (auth, assignments, submissions, staff):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(health.router, prefix=API_PREFIX)
    return app


app = create_app()
