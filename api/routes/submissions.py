"""Uploading handins and reading submissions."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import (
    APIRouter,
    BackgroundTasks,
    File,
    Header,
    HTTPException,
    Request,
    Response,
    UploadFile,
    status,
)
from fastapi.concurrency import run_in_threadpool

from api.config import get_settings
from api.crud import submissions
from api.crud.assignments import adjusted_total
from api.deps import AssignmentDep, CurrentUser, SessionDep, SubmissionId
from api.metrics import UPLOADS_ACCEPTED, UPLOADS_REJECTED
from api.models import Submission
from api.schemas import SubmissionCreated, SubmissionOut
from grader.unpack import HandinError, inspect_handin
from worker.queue import enqueue

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


async def read_upload(file: UploadFile) -> bytes:
    """The upload's bytes, refusing more than the limit while reading (the file may be spooled to disk)."""
    limit = get_settings().max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise refused(
            "too_large",
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"the file is too large: the limit is {limit // (1024 * 1024)} MB ({limit} bytes)",
        )
    return data


def refused(reason: str, status_code: int, message: str) -> HTTPException:
    UPLOADS_REJECTED.labels(reason).inc()
    return HTTPException(status_code, message)


IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=100,
        pattern=r"^[\x21-\x7e]+$",
        description="any unique text per upload (e.g. a UUID): a retry with the same key returns the first "
        "submission instead of storing a second one",
    ),
]


async def accept_upload(
    session,
    assignment,
    user,
    file: UploadFile,
    background: BackgroundTasks,
    idempotency_key: str | None = None,
) -> tuple[Submission, bool]:
    """Validates and stores an upload, and queues it once the answer is sent; an HTTPException says
    why one is refused. Returns the submission and whether it is new (not a retry of an earlier upload).

    The row and the bytes are committed before the answer, the job is sent after it: the row is the
    outbox, so a broker outage (or an API that dies) leaves the submission queued for the sweeper,
    never lost, and the answer never waits on the broker.
    """
    data = await read_upload(file)
    try:
        await run_in_threadpool(inspect_handin, data)
    except HandinError as error:
        raise refused(
            "not_a_handin", status.HTTP_400_BAD_REQUEST, f"this handin cannot be graded: {error}"
        ) from None
    try:
        submission, new = await run_in_threadpool(
            submissions.create, session, assignment, user, data, idempotency_key=idempotency_key
        )
    except submissions.SubmissionRefused as refusal:
        reason = "deadline" if refusal.status_code == status.HTTP_403_FORBIDDEN else "limit"
        raise refused(reason, refusal.status_code, str(refusal)) from None
    extra = {"submission_id": submission.id}
    if not new:
        log.info("upload retried: submission %s again (same idempotency key)", submission.id, extra=extra)
        return submission, False
    UPLOADS_ACCEPTED.inc()
    log.info(
        "stored submission %s (%s, version %s, %s bytes)",
        submission.id,
        user.username,
        submission.version,
        len(data),
        extra=extra,
    )
    background.add_task(enqueue, submission.id)
    return submission, True


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
    submission = submissions.get(session, submission_id)
    if submission is None or (submission.user_id != user.id and not user.is_staff):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such submission")
    return to_out(submission)


@router.get("/assignments/{slug}/submissions", response_model=list[SubmissionOut])
def my_submissions(assignment: AssignmentDep, user: CurrentUser, session: SessionDep):
    """Your own submissions of an assignment, newest first."""
    return [to_out(submission) for submission in submissions.list_for(session, assignment, user)]
