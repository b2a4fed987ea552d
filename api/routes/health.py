"""Health: is the database reachable, is the broker reachable."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from api.db import get_engine
from api.deps import StaffUser

router = APIRouter(tags=["health"])


def check_database() -> str:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return "ok"
    except Exception as error:  # report, never raise: this is the health check
        return f"error: {type(error).__name__}"


def check_broker() -> str:
    from worker.celery_app import app

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        return "ok"
    except Exception as error:
        return f"error: {type(error).__name__}"


@router.get("/health")
def health():
    checks = {"database": check_database(), "broker": check_broker()}
    healthy = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503
    )


metrics_router = APIRouter()


@metrics_router.get("/metrics", include_in_schema=False)
def metrics(user: StaffUser):
    """Prometheus metrics (queue depth, jobs by outcome, grading time, sandbox kills, rejected uploads),
    for course staff and the scraper's staff token only: they tell how busy and how broken grading is."""
    from prometheus_client import CONTENT_TYPE_LATEST

    from api.metrics import render

    return Response(render(), media_type=CONTENT_TYPE_LATEST)
