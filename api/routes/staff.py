"""Course staff: every submission, the scoreboard, grade export and regrades."""

from __future__ import annotations

import tempfile

from fastapi import APIRouter, BackgroundTasks, Query, status
from fastapi.responses import Response, StreamingResponse

from api.deps import AssignmentDep, SessionDep, StaffUser, SubmissionId, visible_submission
from api.schemas import QueueCounts, RegradeQueued, Scoreboard, SubmissionPage, SubmissionSummary
from core.models import Status
from core.queue import enqueue
from core.services import handins, scoreboard, submissions
from core.services.grades import grades_csv

router = APIRouter(tags=["course staff"])
SPOOL_BYTES = 16 << 20  # a bigger archive is written to a temporary file


@router.get("/assignments/{slug}/all-submissions", response_model=SubmissionPage)
def all_submissions(
    assignment: AssignmentDep,
    user: StaffUser,
    session: SessionDep,
    offset: int = Query(0, ge=0, le=2**31 - 1),
    limit: int = Query(100, ge=1, le=1000),
    status_filter: Status | None = Query(None, alias="status"),
    username: str | None = None,
):
    rows, total = submissions.list_all(
        session, assignment, offset=offset, limit=limit, status=status_filter, username=username
    )
    items = [
        SubmissionSummary(
            id=row.id,
            username=row.user.username,
            version=row.version,
            status=row.status,
            created_at=row.created_at,
            late=row.late,
            total=row.total,
        )
        for row in rows
    ]
    return SubmissionPage(total=total, offset=offset, limit=limit, items=items)


@router.get("/assignments/{slug}/queue", response_model=QueueCounts)
def queue_counts(assignment: AssignmentDep, user: StaffUser, session: SessionDep):
    """How many submissions are queued, running, graded or in error (for the regrade progress bar)."""
    return QueueCounts(**submissions.status_counts(session, assignment))


@router.get("/assignments/{slug}/scoreboard", response_model=Scoreboard)
def read_scoreboard(assignment: AssignmentDep, user: StaffUser, session: SessionDep):
    """Every student on the roster with the submission that counts, per-test points and totals."""
    return Scoreboard.model_validate(scoreboard.build(session, assignment), from_attributes=True)


@router.get(
    "/assignments/{slug}/grades.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "one row per student"}},
)
def export_grades(assignment: AssignmentDep, user: StaffUser, session: SessionDep):
    board = scoreboard.build(session, assignment)
    return Response(
        grades_csv(board),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{assignment.slug}-grades.csv"'},
    )


@router.get(
    "/assignments/{slug}/handins.tar",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/x-tar": {}}, "description": "username_version_handin.tar each"}
    },
)
def download_counted_handins(assignment: AssignmentDep, user: StaffUser, session: SessionDep):
    """Every student's counted handin in one tar, each named `username_version_handin.tar` (the shape
    the similarity check's archive import reads)."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed once sent)
    try:
        handins.write_counted(session, assignment, spool)
    except BaseException:
        spool.close()
        raise
    size = spool.tell()
    spool.seek(0)

    def chunks():
        with spool:
            while chunk := spool.read(1 << 20):
                yield chunk

    return StreamingResponse(
        chunks(),
        media_type="application/x-tar",
        headers={
            "Content-Disposition": f'attachment; filename="{assignment.slug}-handins.tar"',
            "Content-Length": str(size),
        },
    )


@router.post(
    "/submissions/{submission_id}/regrade", response_model=RegradeQueued, status_code=status.HTTP_202_ACCEPTED
)
def regrade_one(
    submission_id: SubmissionId, user: StaffUser, session: SessionDep, background: BackgroundTasks
):
    (submission_id,) = submissions.regrade(session, [visible_submission(session, submission_id, user).id])
    background.add_task(enqueue, submission_id)
    return RegradeQueued(queued=1)


@router.post(
    "/assignments/{slug}/regrade", response_model=RegradeQueued, status_code=status.HTTP_202_ACCEPTED
)
def regrade_counted(
    assignment: AssignmentDep, user: StaffUser, session: SessionDep, background: BackgroundTasks
):
    """Regrades the counted submission of every student (not every version: that multiplies the load)."""
    ids = submissions.regrade(session, submissions.counted_ids(session, assignment))
    for submission_id in ids:
        background.add_task(enqueue, submission_id)
    return RegradeQueued(queued=len(ids))
