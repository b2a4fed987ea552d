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
from api.schemas import OverrideOut, SubmissionCreated, SubmissionOut, TestScoreOut
from api.uploads import IdempotencyKey, accept_upload
from core.models import Submission, User
from core.services import handins, submissions

router = APIRouter(tags=["submissions"])
log = logging.getLogger(__name__)


def to_out(submission: Submission, viewer: User) -> SubmissionOut:
    """The submission as `viewer` may see it: before staff release an assignment's scores, a student
    sees that the handin was received and graded, with no score, feedback or log. The overrides'
    reasons and the flags are for staff."""
    released = submission.assignment.scores_visible_to(viewer)
    scores = [
        TestScoreOut(
            name=test.name,
            problem=test.problem,
            points=override.points if (override := submission.override(test.name)) else test.points,
            graded_points=test.points,
            overridden=override is not None,
            max_points=test.max_points,
            passed=test.passed,
            message=test.message,
            where_file=test.where_file,
            where_line=test.where_line,
        )
        for test in submission.scores
    ]
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
        grace_days=submission.grace_days,
        released=released,
        counted=submission.counted,
        total=submission.total if released else None,
        adjusted_total=submission.score if released else None,
        overridden=bool(submission.overrides) and released,
        overrides=[OverrideOut.model_validate(row) for row in submission.overrides if viewer.is_staff],
        comment=submission.comment if released else "",
        max_score=submission.max_score,
        size=submission.size,
        attempts=submission.attempts,
        runtime=submission.runtime or {},
        scores=scores if released else [],
        log=submission.log if released else "",
        error=submission.error,
        flags=[flag for flag in (submission.flags or "").split(",") if flag] if viewer.is_staff else [],
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
    return to_out(visible_submission(session, submission_id, user), user)


@router.get("/assignments/{slug}/submissions", response_model=list[SubmissionOut])
def my_submissions(assignment: AssignmentDep, user: CurrentUser, session: SessionDep):
    """Your own submissions of an assignment, newest first."""
    return [to_out(submission, user) for submission in submissions.list_for(session, assignment, user)]


@router.get(
    "/submissions/{submission_id}/handin.tar",
    response_class=Response,
    responses={200: {"content": {"application/x-tar": {}}, "description": "the handin as uploaded"}},
)
def download_handin(submission_id: SubmissionId, user: CurrentUser, session: SessionDep):
    """The handin as it was uploaded (your own, or any for course staff)."""
    submission = visible_submission(session, submission_id, user)
    name = handins.filename(submission.user.username, submission.version)
    return Response(
        submissions.blob_bytes(session, submission),
        media_type="application/x-tar",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
