"""The course's own settings: its time zone and the grace days of each student."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.errors import InvalidSettings
from core.models import Course
from core.services import audit, standings
from core.timefmt import zone

COURSE_ID = 1


def get(session: Session) -> Course:
    """The course row (made with the defaults, UTC and no grace days, if the database has none)."""
    course = session.get(Course, COURSE_ID)
    if course is None:
        course = Course(id=COURSE_ID, time_zone="UTC", grace_days=0)
        session.add(course)
        session.flush()
    return course


def update(session: Session, values: dict, actor: str) -> list[tuple[str, str, str]]:
    """Applies changed course settings ({"time_zone": ..., "grace_days": ...}) with their audit, and
    works every student's standing out again when the grace days change. Returns the changes made."""
    if "grace_days" in values:
        standings.lock(session)  # every student's standing may move
    course = get(session)
    if "time_zone" in values:
        zone(values["time_zone"])
    if values.get("grace_days", 0) < 0:
        raise InvalidSettings("grace days cannot be negative")
    changes = [
        (field, str(getattr(course, field)), str(value))
        for field, value in values.items()
        if getattr(course, field) != value
    ]
    for field, old, new in changes:
        setattr(course, field, values[field])
        audit.record(session, actor, "course", what=field, old=old, new=new)
    if any(field == "grace_days" for field, _, _ in changes):
        standings.refresh(session)
    session.commit()
    return changes
