"""Uploading handins and reading submissions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool

from api.config import get_settings
from api.crud import submissions
from api.crud.assignments import adjusted_total
from api.deps import AssignmentDep, CurrentUser, SessionDep
from api.models import Submission
from api.schemas import SubmissionCreated, SubmissionOut
from grader.unpack import HandinError, inspect_handin
from worker.queue import enqueue

router = APIRouter(tags=["submissions"])


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
    )


async def read_upload(file: UploadFile) -> bytes:
    """The upload's bytes, refusing more than the limit while reading (the file may be spooled to disk)."""
    limit = get_settings().max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"the file is too large: the limit is {limit // (1024 * 1024)} MB ({limit} bytes)",
        )
    return data


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
    assignment: AssignmentDep,
    user: CurrentUser,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="handin.tar made by create_tarball.sh")],
):
    """Stores a handin and queues it for grading; answers at once with where to follow it."""
    data = await read_upload(file)
    try:
        await run_in_threadpool(inspect_handin, data)
    except HandinError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"this handin cannot be graded: {error}") from None
    try:
        submission = await run_in_threadpool(submissions.create, session, assignment, user, data)
    except submissions.SubmissionRefused as refusal:
        raise HTTPException(refusal.status_code, str(refusal)) from None
    await run_in_threadpool(enqueue, submission.id)  # a broker outage leaves it queued for the sweeper
    return SubmissionCreated(
        id=submission.id,
        version=submission.version,
        status=submission.status,
        status_url=str(request.url_for("read_submission", submission_id=submission.id)),
    )


@router.get("/submissions/{submission_id}", response_model=SubmissionOut)
def read_submission(submission_id: int, user: CurrentUser, session: SessionDep):
    """Status, scores and feedback of one submission (your own, or any for course staff)."""
    submission = submissions.get(session, submission_id)
    if submission is None or (submission.user_id != user.id and not user.is_staff):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such submission")
    return to_out(submission)


@router.get("/assignments/{slug}/submissions", response_model=list[SubmissionOut])
def my_submissions(assignment: AssignmentDep, user: CurrentUser, session: SessionDep):
    """Your own submissions of an assignment, newest first."""
    return [to_out(submission) for submission in submissions.list_for(session, assignment, user)]
