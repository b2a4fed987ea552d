"""Assignments and their deadline rules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidSettings
from core.models import Assignment, new_grading_secret
from core.services import audit, standings
from grader.instances import fingerprint


def get(session: Session, slug: str) -> Assignment | None:
    return session.scalar(select(Assignment).where(Assignment.slug == slug))


def all_assignments(session: Session) -> list[Assignment]:
    return list(session.scalars(select(Assignment).order_by(Assignment.due_at)))


def update(session: Session, assignment: Assignment, values: dict, actor: str = audit.CLI) -> None:
    """Applies changed settings ({field: value}), each with its audit event, and works the standing of
    the assignment's students out again when a rule of lateness or scoring changed. InvalidSettings
    (nothing changed) if the late deadline would end up before the due date."""
    if values.get("late_deadline_at", assignment.late_deadline_at) < values.get("due_at", assignment.due_at):
        raise InvalidSettings("the late deadline cannot be before the due date")
    if assignment.id is None:
        session.flush()  # a new assignment: its id for the audit trail
    changed = {field for field, value in values.items() if getattr(assignment, field) != value}
    if changed & STANDING_RULES:
        standings.lock(session, standings.students_of(session, assignment))
    for field in sorted(changed):
        old, new = getattr(assignment, field), values[field]
        setattr(assignment, field, new)
        audit.record(
            session,
            actor,
            "settings",
            assignment_id=assignment.id,
            what=field,
            old=shown(old),
            new=shown(new),
        )
    if changed & STANDING_RULES:
        session.flush()
        standings.refresh(session, standings.students_of(session, assignment))
    session.commit()


STANDING_RULES = {"due_at", "late_deadline_at", "late_penalty_per_day", "late_penalty_cap", "scoring"}


def shown(value: object) -> str:
    """A setting's value as the audit trail records it."""
    if value is None:
        return "none"
    return value.isoformat() if isinstance(value, datetime) else str(value)


def instances(assignment: Assignment) -> str:
    """The name of the hidden instances the assignment grades on (safe to show; reveals no secret)."""
    return fingerprint(bytes.fromhex(assignment.grading_secret))


def rotate_secret(session: Session, assignment: Assignment) -> str:
    """Draws new hidden instances: grading from now on (regrades too) uses them. Returns their name."""
    assignment.grading_secret = new_grading_secret()
    session.commit()
    return instances(assignment)
