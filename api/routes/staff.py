"""Course staff: every submission, the scoreboard, grade export and regrades."""

from __future__ import annotations

import enum
import tempfile
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, HTTPException, Path, Query, status
from fastapi.responses import Response, StreamingResponse

from api.deps import AssignmentDep, SessionDep, StaffUser, SubmissionId, visible_submission
from api.schemas import (
    GradebookAssignment,
    GradebookOut,
    GradebookRowOut,
    QueueCounts,
    RegradeQueued,
    RegradeStatus,
    Scoreboard,
    ScoreStats,
    SubmissionPage,
    SubmissionSummary,
)
from core.db import session_factory
from core.models import Assignment, Regrade, Status
from core.queue import enqueue
from core.services import audit, gradebook, handins, scoreboard, submissions
from core.services.grades import grades_csv

router = APIRouter(tags=["course staff"])


class Order(enum.StrEnum):
    asc = "asc"
    desc = "desc"


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
def read_scoreboard(
    assignment: AssignmentDep,
    user: StaffUser,
    session: SessionDep,
    q: str = Query("", max_length=100, description="part of a username or name"),
    show: scoreboard.Show = scoreboard.Show.all,
    sort: scoreboard.Sort = scoreboard.Sort.username,
    order: Order = Order.asc,
    offset: int = Query(0, ge=0, le=2**31 - 1),
    limit: int = Query(100, ge=1, le=1000),
):
    """Students on the roster with the submission that counts, per-test points and the score that
    counts, a page at a time (`total` students match)."""
    view = scoreboard.View(q, show, sort, order == Order.desc, offset, limit)
    return Scoreboard.model_validate(scoreboard.page(session, assignment, view), from_attributes=True)


@router.get("/assignments/{slug}/scoreboard/stats", response_model=ScoreStats)
def scoreboard_stats(assignment: AssignmentDep, user: StaffUser, session: SessionDep):
    """The counted scores of the class: how many, their mean and median, and students per point."""
    return ScoreStats.model_validate(scoreboard.stats(session, assignment), from_attributes=True)


@router.get(
    "/assignments/{slug}/grades.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "one row per student"}},
)
def export_grades(assignment: AssignmentDep, user: StaffUser, session: SessionDep):
    """The grades of every student on the roster, streamed as they are read (on a session of the
    stream's own: the request's is closed once the response starts)."""
    assignment_id = assignment.id

    def lines():
        with session_factory()() as own:
            yield from grades_csv(own, own.get(Assignment, assignment_id))

    return StreamingResponse(
        lines(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{assignment.slug}-grades.csv"'},
    )


@router.get("/gradebook", response_model=GradebookOut)
def read_gradebook(user: StaffUser, session: SessionDep):
    """Every student's counted score on every assignment, and their total."""
    book = gradebook.build(session)
    return GradebookOut(
        assignments=[
            GradebookAssignment(slug=a.slug, title=a.title, max_score=a.max_score) for a in book.assignments
        ],
        rows=[
            GradebookRowOut(
                username=row.username,
                display_name=row.display_name,
                scores={a.slug: score for a, score in zip(book.assignments, row.scores, strict=True)},
                total=row.total,
            )
            for row in book.rows
        ],
    )


CSV_RESPONSE = {200: {"content": {"text/csv": {}}, "description": "one row per student"}}


@router.get("/gradebook.csv", response_class=StreamingResponse, responses=CSV_RESPONSE)
def export_gradebook(user: StaffUser, session: SessionDep):
    """username, name, email, one column per assignment, total."""
    return csv_download(gradebook.gradebook_csv(gradebook.build(session)), "gradebook.csv")


@router.get("/gradebook/canvas.csv", response_class=StreamingResponse, responses=CSV_RESPONSE)
def export_canvas(user: StaffUser, session: SessionDep):
    """The gradebook in the shape Canvas imports (Grades > Import): students matched by SIS Login ID."""
    return csv_download(gradebook.canvas_csv(gradebook.build(session)), "canvas-gradebook.csv")


def csv_download(lines, filename: str) -> StreamingResponse:
    return StreamingResponse(
        lines, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
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
    submission = visible_submission(session, submission_id, user)
    batch = submissions.regrade(session, [submission.id], audit.actor_name(user), submission.assignment_id)
    background.add_task(enqueue, submission_id)
    return queued(batch)


@router.post(
    "/assignments/{slug}/regrade", response_model=RegradeQueued, status_code=status.HTTP_202_ACCEPTED
)
def regrade_counted(
    assignment: AssignmentDep, user: StaffUser, session: SessionDep, background: BackgroundTasks
):
    """Regrades the counted submission of every student (not every version: that multiplies the load)."""
    ids = submissions.counted_ids(session, assignment)
    batch = submissions.regrade(session, ids, audit.actor_name(user), assignment.id)
    for submission_id in ids:
        background.add_task(enqueue, submission_id)
    return queued(batch)


def queued(batch: Regrade) -> RegradeQueued:
    return RegradeQueued(
        queued=batch.submissions, regrade_id=batch.id, progress_url=f"/api/v1/regrades/{batch.id}"
    )


@router.get("/regrades/{regrade_id}", response_model=RegradeStatus)
def regrade_status(
    regrade_id: Annotated[int, Path(ge=1, le=2**31 - 1)], user: StaffUser, session: SessionDep
):
    """How far a regrade is: its own jobs only, not the uploads graded meanwhile."""
    batch = session.get(Regrade, regrade_id)
    if batch is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such regrade")
    progress = submissions.regrade_progress(session, batch)
    return RegradeStatus(
        total=progress.total,
        done=progress.done,
        failed=progress.failed,
        pending=progress.pending,
        finished=progress.finished,
    )
