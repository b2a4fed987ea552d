"""The grades export: one row per student, as a spreadsheet opens it safely."""

from __future__ import annotations

import csv
import io

from core.services.scoreboard import Scoreboard


def spreadsheet_safe(text: str) -> str:
    """A name a spreadsheet will not run as a formula when the CSV is opened."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def grades_csv(board: Scoreboard) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "username",
            "display_name",
            "submission_id",
            "version",
            "submissions",
            "late",
            "late_days",
            "grace_days_used",
            "grace_days_left",
            "overridden",
            "raw_total",
            "total",
            *board.tests,
        ]
    )
    for row in board.rows:
        writer.writerow(
            [
                spreadsheet_safe(row.username),
                spreadsheet_safe(row.display_name),
                row.submission_id or "",
                row.version or "",
                row.submissions,
                int(row.late),
                row.late_days,
                row.grace_days,
                row.grace_days_left,
                int(row.overridden),
                "" if row.total is None else row.total,
                "" if row.adjusted_total is None else row.adjusted_total,
                *(row.tests.get(test, "") for test in board.tests),
            ]
        )
    return out.getvalue()
