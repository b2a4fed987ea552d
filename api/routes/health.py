"""Health: is the database reachable, is the broker reachable, can a worker grade."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from api.deps import StaffUser
from core.config import get_settings
from core.db import get_engine, session_factory
from core.queue import celery
from core.services import workers

router = APIRouter(tags=["health"])


def check_database() -> str:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return "ok"
    except Exception as error:  # report, never raise: this is the health check
        return f"error: {type(error).__name__}"


def check_broker() -> str:
    try:
        with celery().connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        return "ok"
    except Exception as error:
        return f"error: {type(error).__name__}"


def check_grading() -> str:
    """ok if a live worker takes grading jobs (saying so if its sandbox is weak), else why not."""
    try:
        with session_factory()() as session:
            state = workers.grading_state(session, get_settings().worker_gone_after_s)
    except Exception as error:
        return f"error: {type(error).__name__}"
    if state.problem:
        return f"error: {state.problem}"
    return f"ok, but weak: {'; '.join(state.weak)}" if state.weak else "ok"


@router.get("/health", responses={503: {"description": "a part is down: its check says which and why"}})
def health():
    """200 when uploads are stored, queued and graded; 503 (saying which part failed) otherwise."""
    database = check_database()
    grading = check_grading() if database == "ok" else "unknown: the database cannot be reached"
    checks = {"database": database, "broker": check_broker(), "grading": grading}
    healthy = all(value.startswith("ok") for value in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503
    )


@router.get("/health/live")
def alive():
    """200 while the API process answers: for a container's liveness probe (not whether it can grade)."""
    return {"status": "ok"}


metrics_router = APIRouter()


@metrics_router.get("/metrics", include_in_schema=False)
def metrics(user: StaffUser):
    """Prometheus metrics (queue depth, jobs by outcome, grading time, sandbox kills, rejected uploads),
    for course staff and the scraper's staff token only: they tell how busy and how broken grading is."""
    from prometheus_client import CONTENT_TYPE_LATEST

    from api.metrics import render

    return Response(render(), media_type=CONTENT_TYPE_LATEST)
