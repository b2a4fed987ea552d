"""Grading reports as a worker stores them, for tests of what happens to scores after grading."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from core.models import Assignment, Submission, User
from core.services import submissions
from support.handins import tar_bytes

TESTS = {"Adam step": 10.0, "Dropout forward": 5.0, "BatchNorm train": 10.0}  # 25 points


def report(points: dict[str, float] | None = None) -> dict:
    """A report with every test passed, unless `points` gives some tests fewer points."""
    points = {name: (points or {}).get(name, top) for name, top in TESTS.items()}
    return {
        "tests": [
            {
                "name": name,
                "autolab": name,
                "problem": name.split()[0].lower(),
                "points": points[name],
                "max_points": top,
                "passed": points[name] == top,
                "message": "" if points[name] == top else f"{name}: wrong values",
                "where": None,
            }
            for name, top in TESTS.items()
        ],
        "total": sum(points.values()),
        "max": 25.0,
        "log": "graded\n",
        "runtime": {"python": "3.8.18", "numpy": "1.18.1", "scipy": "1.4.1"},
        "duration_s": 1.0,
    }


def graded(
    db: Session,
    assignment: Assignment,
    user: User,
    at: datetime,
    points: dict[str, float] | None = None,
    content: bytes = b"x = 1\n",
) -> Submission:
    """A submission uploaded at `at` and graded (every test passed unless `points` says otherwise)."""
    submission, _ = submissions.create(db, assignment, user, tar_bytes({"mytorch/a.py": content}), now=at)
    submissions.store_report(db, submission.id, report(points))
    db.refresh(submission)
    return submission
