"""Uploading handins and reading submissions."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import (
    APIRouter,
    BackgroundTasks,
    File,
    Request,
    Response,
    UploadFile,
    status,
)

from api.deps import AssignmentDep, CurrentUser, SessionDep, SubmissionId, visible_submission
from api.schemas import SubmissionCreated, SubmissionOut
from api.uploads import IdempotencyKey, accept_upload
from core.models import Submission
from core.services import submissions
from core.services.assignments import adjusted_total

router = APIRouter(tags=["submissions"])
log = logging.getLogger(__name__)


def to_out(submission: Submission) -> SubmissionOut:
    return SubmissionOut(
        id=submission.id,
        assignment=submission.assignment.slug,
        username=submission.user.username,
        version=submission.version,
        status=submission.status,
        created_at=submission.created_at,
        graded_at=submission.graded_at,
        late=submission.late,
        late_days=submission.late_days,
        total=submission.total,
        adjusted_total=adjusted_total(submission.assignment, submission.total, submission.late_days),
        max_score=submission.max_score,
        size=submission.size,
        attempts=submission.attempts,
        runtime=submission.runtime or {},
        scores=submission.scores,
        log=submission.log,
        error=submission.error,
        flags=[flag for flag in (submission.flags or "").split(",") if flag],
    )


@router.post(
    "/assignments/{slug}/submissions",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SubmissionCreated,
    responses={
        400: {"description": "not a valid handin"},
        403: {"description": "deadline passed"},
        409: {"description": "submission limit reached"},
        413: {"description": "too large"},
    },
)
async def upload(
    request: Request,
    response: Response,
    background: BackgroundTasks,
    assignment: AssignmentDep,
    user: CurrentUser,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="handin.tar made by create_tarball.sh")],
    idempotency_key: IdempotencyKey = None,
):
    """Stores a handin and queues it for grading; answers at once with where to follow it. Send an
    Idempotency-Key: a retry with the same key (the answer was lost) returns the same submission."""
    submission, new = await accept_upload(session, assignment, user, file, background, idempotency_key)
    if not new:
        response.headers["Idempotent-Replayed"] = "true"
    return SubmissionCreated(
        id=submission.id,
        version=submission.version,
        status=submission.status,
        status_url=str(request.url_for("read_submission", submission_id=submission.id)),
    )


@router.get("/submissions/{submission_id}", response_model=SubmissionOut)
def read_submission(submission_id: SubmissionId, user: CurrentUser, session: SessionDep):
    """Status, scores and feedback of one submission (your own, or any for course staff)."""
    return to_out(visible_submission(session, submission_id, user))


@router.get("/assignments/{slug}/submissions", response_model=list[SubmissionOut])
def my_submissions(assignment: AssignmentDep, user: CurrentUser, session: SessionDep):
    """Your own submissions of an assignment, newest first."""
    return [to_out(submission) for submission in submissions.list_for(session, assignment, user)]
