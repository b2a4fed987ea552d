"""The FastAPI application."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from api.limits import BodySizeLimit, RejectNul
from api.routes import (
    assignments,
    auth,
    course_pages,
    deadlines,
    health,
    overrides,
    pages,
    similarity,
    staff,
    submissions,
)
from api.web import LoginRequired, database_unavailable_handler, http_error_handler, login_required_handler
from core.config import get_settings
from core.db import UNAVAILABLE, answer_fast
from core.logs import configure_logging

API_PREFIX = "/api/v1"


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging()
    answer_fast()
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
    app.add_middleware(RejectNul)
    for module in (auth, assignments, deadlines, submissions, overrides, staff, similarity):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(health.router, prefix=API_PREFIX)
    app.include_router(health.metrics_router)
    app.include_router(pages.router)
    app.include_router(course_pages.router)
    app.include_router(similarity.pages)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.add_exception_handler(LoginRequired, login_required_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    for error in UNAVAILABLE:  # an outage is a 503 the client may retry, never a bare 500 or a hang
        app.add_exception_handler(error, database_unavailable_handler)
    return app


app = create_app()
