"""The audit trail of what staff change in grades and deadlines: who, when, the old and the new value."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import AuditEvent, User

CLI = "admin CLI"  # the actor of a change made with `python -m api`


def actor_name(user: User | None) -> str:
    return user.username if user is not None else CLI


def record(
    session: Session,
    actor: str,
    action: str,
    *,
    assignment_id: int | None = None,
    submission_id: int | None = None,
    student_id: int | None = None,
    what: str = "",
    old: str = "",
    new: str = "",
    reason: str = "",
) -> None:
    """Adds an event to the session; it is stored with the change it describes (same commit)."""
    session.add(
        AuditEvent(
            actor=actor,
            action=action,
            assignment_id=assignment_id,
            submission_id=submission_id,
            student_id=student_id,
            what=what,
            old=old,
            new=new,
            reason=reason,
        )
    )


def for_student(session: Session, assignment_id: int, student_id: int) -> list[AuditEvent]:
    """Every change to one student's grades and deadlines on an assignment, newest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.student_id == student_id, AuditEvent.assignment_id == assignment_id)
            .order_by(AuditEvent.id.desc())
        )
    )


def for_submission(session: Session, submission_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.submission_id == submission_id).order_by(AuditEvent.id.desc())
        )
    )


def for_course(session: Session, limit: int = 50) -> list[AuditEvent]:
    """The latest changes of the course's settings (time zone, grace days), newest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "course")
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    )


def for_assignment(session: Session, assignment_id: int, limit: int = 200) -> list[AuditEvent]:
    """The latest changes to an assignment's settings and its students' grades, newest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.assignment_id == assignment_id)
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    )
