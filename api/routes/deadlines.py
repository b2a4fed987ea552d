"""Deadlines: the course's time zone and grace days, each student's extension, and the caller's
standing (the deadlines in force, submissions and grace days left)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.deps import AssignmentDep, CurrentUser, SessionDep, StaffUser, student_by_username
from api.schemas import CourseOut, CourseUpdate, ExtensionIn, ExtensionOut, StandingOut
from core.errors import InvalidSettings
from core.models import Assignment, Extension, User, utcnow
from core.services import audit, course, extensions, standings

router = APIRouter(tags=["deadlines"])


@router.get("/course", response_model=CourseOut)
def read_course(user: CurrentUser, session: SessionDep):
    return course.get(session)


@router.patch("/course", response_model=CourseOut)
def update_course(changes: CourseUpdate, user: StaffUser, session: SessionDep):
    """Set the course's time zone (an IANA name) or each student's grace days (course staff)."""
    values = {
        key: value for key, value in changes.model_dump(exclude_unset=True).items() if value is not None
    }
    try:
        course.update(session, values, audit.actor_name(user))
    except InvalidSettings as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    return course.get(session)


@router.get("/assignments/{slug}/standing", response_model=StandingOut)
def my_standing(assignment: AssignmentDep, user: CurrentUser, session: SessionDep):
    """Your deadlines (with any extension), submissions and grace days left, and whether an upload
    would be taken now."""
    standing = standings.of(session, assignment, user, utcnow())
    return StandingOut(
        due_at=standing.deadlines.due_at,
        late_deadline_at=standing.deadlines.late_deadline_at,
        extension_days=standing.deadlines.extension_days,
        submissions_used=standing.used,
        submissions_limit=standing.limit,
        submissions_left=standing.left,
        grace_days=standing.grace_days,
        grace_days_used=standing.grace_used,
        grace_days_left=standing.grace_left,
        open=standing.refusal is None,
        closed_reason=str(standing.refusal) if standing.refusal else None,
    )


def extension_out(assignment: Assignment, extension: Extension, student: User) -> ExtensionOut:
    rules = standings.deadlines(assignment, extension.days)
    return ExtensionOut(
        username=student.username,
        days=extension.days,
        due_at=rules.due_at,
        late_deadline_at=rules.late_deadline_at,
        reason=extension.reason,
        created_at=extension.created_at,
    )


@router.get("/assignments/{slug}/extensions", response_model=list[ExtensionOut])
def list_extensions(assignment: AssignmentDep, user: StaffUser, session: SessionDep):
    return [
        extension_out(assignment, row, student) for row, student in extensions.all_for(session, assignment)
    ]


@router.put("/assignments/{slug}/extensions/{username}", response_model=ExtensionOut)
def grant_extension(
    username: str, body: ExtensionIn, assignment: AssignmentDep, user: StaffUser, session: SessionDep
):
    """Give one student `days` more days: their due date and late deadline both move (course staff)."""
    student = student_by_username(session, username)
    extension = extensions.grant(session, assignment, student, body.days, audit.actor_name(user), body.reason)
    return extension_out(assignment, extension, student)


@router.delete("/assignments/{slug}/extensions/{username}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_extension(username: str, assignment: AssignmentDep, user: StaffUser, session: SessionDep):
    if not extensions.revoke(
        session, assignment, student_by_username(session, username), audit.actor_name(user)
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{username} has no extension on {assignment.slug}")
