"""Assignments and their deadline rules."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidSettings
from core.models import Assignment, new_grading_secret
from grader.instances import fingerprint

DAY_S = 86400.0


def get(session: Session, slug: str) -> Assignment | None:
    return session.scalar(select(Assignment).where(Assignment.slug == slug))


def all_assignments(session: Session) -> list[Assignment]:
    return list(session.scalars(select(Assignment).order_by(Assignment.due_at)))


def update(session: Session, assignment: Assignment, values: dict) -> None:
    """Applies changed settings ({field: value}); InvalidSettings (nothing changed) if the late deadline
    would end up before the due date."""
    if values.get("late_deadline_at", assignment.late_deadline_at) < values.get("due_at", assignment.due_at):
        raise InvalidSettings("the late deadline cannot be before the due date")
    for field, value in values.items():
        setattr(assignment, field, value)
    session.commit()


def instances(assignment: Assignment) -> str:
    """The name of the hidden instances the assignment grades on (safe to show; reveals no secret)."""
    return fingerprint(bytes.fromhex(assignment.grading_secret))


def rotate_secret(session: Session, assignment: Assignment) -> str:
    """Draws new hidden instances: grading from now on (regrades too) uses them. Returns their name."""
    assignment.grading_secret = new_grading_secret()
    session.commit()
    return instances(assignment)


def late_days(assignment: Assignment, at: datetime) -> int:
    """Whole days (rounded up) past the due date; 0 if on time."""
    seconds = (at - assignment.due_at).total_seconds()
    return 0 if seconds <= 0 else math.ceil(seconds / DAY_S)


def penalty_fraction(assignment: Assignment, days: int) -> float:
    fraction = assignment.late_penalty_per_day * days
    if assignment.late_penalty_cap is not None:
        fraction = min(fraction, assignment.late_penalty_cap)
    return max(0.0, min(1.0, fraction))


def adjusted_total(assignment: Assignment, total: float | None, days: int) -> float | None:
    """The score after the late penalty."""
    if total is None:
        return None
    return round(total * (1 - penalty_fraction(assignment, days)), 4)
