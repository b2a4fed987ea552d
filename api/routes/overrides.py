"""Staff's word on a grade: overrides of a test's points or the total, comments, and the audit trail
of every change staff make to grades and deadlines."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import (
    AssignmentDep,
    SessionDep,
    StaffUser,
    SubmissionId,
    student_by_username,
    visible_submission,
)
from api.routes.submissions import to_out
from api.schemas import AuditEventOut, CommentIn, OverrideIn, SubmissionOut
from core.errors import InvalidSettings
from core.services import audit, overrides, submissions

router = APIRouter(tags=["course staff"])


@router.put("/submissions/{submission_id}/override", response_model=SubmissionOut)
def set_override(submission_id: SubmissionId, body: OverrideIn, user: StaffUser, session: SessionDep):
    """Set a test's points (`test`), or the whole total (no `test`), in place of the grader's. The
    original stays visible to staff; a regrade keeps the override until it is cleared."""
    submission = visible_submission(session, submission_id, user)
    try:
        overrides.set_override(
            session, submission, body.test, body.points, body.reason, audit.actor_name(user)
        )
    except InvalidSettings as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    return to_out(submissions.get(session, submission_id), user)


@router.delete("/submissions/{submission_id}/override", response_model=SubmissionOut)
def clear_override(
    submission_id: SubmissionId,
    user: StaffUser,
    session: SessionDep,
    test: str = Query("", max_length=200, description="the test's name; none for the total"),
    reason: str = Query("", max_length=2000),
):
    """Give the grader's points back to a test, or to the total."""
    submission = visible_submission(session, submission_id, user)
    if not overrides.clear_override(session, submission, test, audit.actor_name(user), reason):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no override of {test or 'the total'}")
    return to_out(submissions.get(session, submission_id), user)


@router.put("/submissions/{submission_id}/comment", response_model=SubmissionOut)
def set_comment(submission_id: SubmissionId, body: CommentIn, user: StaffUser, session: SessionDep):
    """Set the comment the student reads with the result (empty: none)."""
    submission = visible_submission(session, submission_id, user)
    overrides.set_comment(session, submission, body.comment, audit.actor_name(user))
    return to_out(submissions.get(session, submission_id), user)


@router.get("/submissions/{submission_id}/audit", response_model=list[AuditEventOut])
def submission_audit(submission_id: SubmissionId, user: StaffUser, session: SessionDep):
    """Every change staff made to the submission's grade: who, when, the old and the new value."""
    return audit.for_submission(session, visible_submission(session, submission_id, user).id)


@router.get("/assignments/{slug}/students/{username}/audit", response_model=list[AuditEventOut])
def student_audit(username: str, assignment: AssignmentDep, user: StaffUser, session: SessionDep):
    """Every change to one student's grades and deadlines on the assignment, newest first."""
    return audit.for_student(session, assignment.id, student_by_username(session, username).id)


@router.get("/assignments/{slug}/audit", response_model=list[AuditEventOut])
def assignment_audit(assignment: AssignmentDep, user: StaffUser, session: SessionDep):
    """The latest changes to the assignment's settings and its students' grades, newest first."""
    return audit.for_assignment(session, assignment.id)
