"""Course staff: every submission, the scoreboard, grade export and regrades."""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, status
from fastapi.responses import Response

from api.crud import scoreboard, submissions
from api.deps import AssignmentDep, SessionDep, StaffUser, SubmissionId
from api.models import Status
from api.schemas import QueueCounts, RegradeQueued, Scoreboard, SubmissionPage, SubmissionSummary
from worker.queue import enqueue

router = APIRouter(tags=["course staff"])


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
    return scoreboard.build(session, assignment)


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


def spreadsheet_safe(text: str) -> str:
    """A name a spreadsheet will not run as a formula when the CSV is opened."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def grades_csv(board) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "username",
            "display_name",
            "submission_id",
            "version",
            "submissions",
            "late",
            "raw_total",
            "total",
            *board.tests,
        ]
    )
    for row in board.rows:
        writer.writerow(
            [
                spreadsheet_safe(row.username),
                spreadsheet_safe(row.display_name),
                row.submission_id or "",
                row.version or "",
                row.submissions,
                int(row.late),
                "" if row.total is None else row.total,
                "" if row.adjusted_total is None else row.adjusted_total,
                *(row.tests.get(test, "") for test in board.tests),
            ]
        )
    return out.getvalue()


@router.post(
    "/submissions/{submission_id}/regrade", response_model=RegradeQueued, status_code=status.HTTP_202_ACCEPTED
)
def regrade_one(
    submission_id: SubmissionId, user: StaffUser, session: SessionDep, background: BackgroundTasks
):
    submission = submissions.get(session, submission_id)
    if submission is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such submission")
    submissions.requeue(session, submission)
    background.add_task(enqueue, submission.id)
    return RegradeQueued(queued=1)


@router.post(
    "/assignments/{slug}/regrade", response_model=RegradeQueued, status_code=status.HTTP_202_ACCEPTED
)
def regrade_counted(
    assignment: AssignmentDep, user: StaffUser, session: SessionDep, background: BackgroundTasks
):
    """Regrades the counted submission of every student (not every version: that multiplies the load)."""
    ids = [entry.submission_id for entry in submissions.counted_submissions(session, assignment).values()]
    for submission_id in ids:
        submissions.requeue(session, submissions.get(session, submission_id))
    for submission_id in ids:
        background.add_task(enqueue, submission_id)
    return RegradeQueued(queued=len(ids))
