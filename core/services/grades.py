"""Grade exports: one row per student, as a spreadsheet opens it safely, written a batch at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from itertools import chain

from sqlalchemy.orm import Session

from core.models import Assignment
from core.services import scoreboard


def spreadsheet_safe(text: str) -> str:
    """A name a spreadsheet will not run as a formula when the CSV is opened."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(rows: Iterable[list]) -> Iterator[str]:
    """The CSV text of `rows`, a few hundred rows per piece (a streamed response sends them as made)."""
    out = io.StringIO()
    writer = csv.writer(out)
    for number, row in enumerate(rows, 1):
        writer.writerow(row)
        if number % 500 == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def blank(value: float | None) -> float | str:
    return "" if value is None else value


def grades_csv(session: Session, assignment: Assignment) -> Iterator[str]:
    """The grades of an assignment: every student on the roster, their counted submission, lateness,
    grace days, the score as graded and as it counts, and each test's points."""
    tests = scoreboard.test_names(session, assignment)
    header = [
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
        *tests,
    ]
    rows = (
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
            blank(row.total),
            blank(row.adjusted_total),
            *(row.tests.get(test, "") for test in tests),
        ]
        for row in scoreboard.every_row(session, assignment)
    )
    return csv_lines(chain([header], rows))
