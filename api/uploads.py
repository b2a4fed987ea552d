"""Taking an upload in, for the JSON API and the pages alike: read within the size limit, checked that
it can be graded, stored, and queued once the answer is sent."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import BackgroundTasks, Header, HTTPException, UploadFile, status
from fastapi.concurrency import run_in_threadpool

from api.metrics import UPLOADS_ACCEPTED, UPLOADS_REJECTED
from core.config import get_settings
from core.errors import Closed, LimitReached
from core.models import Submission
from core.queue import enqueue
from core.services import submissions
from grader.unpack import HandinError, inspect_handin

log = logging.getLogger(__name__)


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
    except Closed as refusal:
        raise refused("deadline", status.HTTP_403_FORBIDDEN, str(refusal)) from None
    except LimitReached as refusal:
        raise refused("limit", status.HTTP_409_CONFLICT, str(refusal)) from None
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
