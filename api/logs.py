"""Logging for the API and the workers: JSON lines by default, each carrying submission_id where known."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from api.config import get_settings


def configure_logging() -> None:
    """Sends the root logger to stderr as JSON (LOG_FORMAT=json) or plain text (LOG_FORMAT=text)."""
    settings = get_settings()
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
