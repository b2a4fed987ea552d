"""Extensions: more days for one student on one assignment, granted and taken back by staff."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidSettings
from core.models import Assignment, Extension, User
from core.services import audit, standings

MAX_DAYS = 365


def get(session: Session, assignment: Assignment, student: User) -> Extension | None:
    return session.scalar(
        select(Extension).where(Extension.assignment_id == assignment.id, Extension.user_id == student.id)
    )


def all_for(session: Session, assignment: Assignment) -> list[tuple[Extension, User]]:
    rows = session.execute(
        select(Extension, User)
        .join(User, User.id == Extension.user_id)
        .where(Extension.assignment_id == assignment.id)
        .order_by(User.username)
    )
    return [(extension, student) for extension, student in rows]


def grant(
    session: Session, assignment: Assignment, student: User, days: int, actor: str, reason: str = ""
) -> Extension:
    """Gives the student `days` more days (due date and late deadline both move), in place of any
    extension they had; their lateness and grace days are worked out again at once."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidSettings(f"an extension is 1 to {MAX_DAYS} days")
    standings.lock(session, [student.id])
    extension = get(session, assignment, student)
    old = f"{extension.days} day(s)" if extension else "none"
    if extension is None:
        extension = Extension(assignment_id=assignment.id, user_id=student.id, days=days, reason=reason)
        session.add(extension)
    else:
        extension.days, extension.reason = days, reason
    audit_change(session, assignment, student, old, f"{days} day(s)", reason, actor)
    session.flush()
    standings.refresh(session, [student.id])
    session.commit()
    return extension


def revoke(session: Session, assignment: Assignment, student: User, actor: str, reason: str = "") -> bool:
    """Takes the student's extension back; False if they had none."""
    standings.lock(session, [student.id])
    extension = get(session, assignment, student)
    if extension is None:
        return False
    audit_change(session, assignment, student, f"{extension.days} day(s)", "none", reason, actor)
    session.delete(extension)
    session.flush()
    standings.refresh(session, [student.id])
    session.commit()
    return True


def audit_change(
    session: Session, assignment: Assignment, student: User, old: str, new: str, reason: str, actor: str
) -> None:
    audit.record(
        session,
        actor,
        "extension",
        assignment_id=assignment.id,
        student_id=student.id,
        what="extension",
        old=old,
        new=new,
        reason=reason,
    )
