"""Logging for the API and the workers: JSON lines by default, each carrying submission_id where known."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from core.config import get_settings

FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
RENAMED = {"asctime": "time", "levelname": "level"}
# uvicorn's own loggers: they go through the root logger's handler, as JSON lines too.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def formatter() -> logging.Formatter:
    if get_settings().log_format == "json":
        return JsonFormatter(FIELDS, rename_fields=RENAMED)
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging() -> None:
    """Sends the root logger to stderr as JSON (LOG_FORMAT=json) or plain text (LOG_FORMAT=text), and
    uvicorn's loggers through it (their tracebacks included)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(get_settings().log_level)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True


def uvicorn_log_config() -> dict:
    """uvicorn's logging configuration: every line it writes (the supervisor's too) a JSON line."""
    kind = (
        "pythonjsonlogger.json.JsonFormatter" if get_settings().log_format == "json" else "logging.Formatter"
    )
    options = {"fmt": FIELDS, "rename_fields": RENAMED} if kind.startswith("python") else {"fmt": FIELDS}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": kind, **options}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["stderr"], "level": get_settings().log_level},
        "loggers": {name: {"handlers": [], "propagate": True} for name in UVICORN_LOGGERS},
    }
