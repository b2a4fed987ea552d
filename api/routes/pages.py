"""Server-rendered pages for students and course staff."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, HTTPException, Query, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.csrf import check_csrf
from api.deps import SessionDep, SubmissionId, assignment_by_slug, client_address, visible_submission
from api.schemas import NULLABLE_SETTINGS, AssignmentUpdate
from api.uploads import accept_upload
from api.web import CheckedForm, PageUser, StaffPageUser, render
from core.config import get_settings
from core.errors import InvalidSettings
from core.services import assignments, logins, scoreboard, submissions, users
from core.services.assignments import adjusted_total
from grader.unpack import read_handin_files

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
SORTS = {
    "username": lambda row: row.username,
    "total": lambda row: (row.adjusted_total is None, -(row.adjusted_total or 0)),
    "submissions": lambda row: -row.submissions,
    "late": lambda row: (not row.late, row.username),
}


@router.get("/")
def home(request: Request):
    return RedirectResponse(
        "/assignments" if request.session.get("user_id") else "/login", status.HTTP_303_SEE_OTHER
    )


@router.get("/login")
def login_page(request: Request, next: str = "/assignments"):
    return render(request, "login.html", {"next": next, "user": None})


@router.post("/login")
def login(request: Request, session: SessionDep, form: CheckedForm):
    try:
        user = logins.attempt(
            session,
            str(form.get("username", "")),
            str(form.get("password", "")),
            client_address(request),
            get_settings().login_attempts_per_minute,
        )
    except logins.TooManyAttempts:
        return render(
            request,
            "login.html",
            {
                "next": "/assignments",
                "user": None,
                "error": "Too many failed logins: wait a minute and try again.",
            },
            status_code=429,
        )
    target = str(form.get("next") or "/assignments")
    if not target.startswith("/") or target.startswith("//"):
        target = "/assignments"  # never redirect off the site
    if user is None:
        return render(
            request,
            "login.html",
            {"next": target, "user": None, "error": "Wrong username or password."},
            status_code=401,
        )
    csrf = request.session.get("csrf")
    request.session.clear()
    request.session.update({"user_id": user.id, "csrf": csrf})
    return RedirectResponse(target, status.HTTP_303_SEE_OTHER)


@router.post("/logout")
def logout(request: Request, form: CheckedForm):
    request.session.clear()
    return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)


@router.get("/assignments")
def assignment_list(request: Request, user: PageUser, session: SessionDep):
    return render(
        request, "assignments.html", {"user": user, "assignments": assignments.all_assignments(session)}
    )


@router.get("/assignments/{slug}")
def assignment_page(slug: str, request: Request, user: PageUser, session: SessionDep):
    assignment = assignment_by_slug(slug, session)
    history = submissions.list_for(session, assignment, user)
    return render(
        request,
        "assignment.html",
        {
            "user": user,
            "assignment": assignment,
            "history": history,
            "latest": history[0] if history else None,
            "adjusted": lambda s: adjusted_total(assignment, s.total, s.late_days),
            "used": len(history),
        },
    )


@router.post("/assignments/{slug}/upload")
async def upload_form(
    slug: str,
    request: Request,
    background: BackgroundTasks,
    user: PageUser,
    session: SessionDep,
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str, Form()] = "",
):
    """The upload form without JavaScript: stores, queues, shows the submission (or why it was refused)."""
    check_csrf(request, csrf_token)
    assignment = await run_in_threadpool(assignment_by_slug, slug, session)  # never a query on the event loop
    submission, _ = await accept_upload(session, assignment, user, file, background)
    return RedirectResponse(f"/submissions/{submission.id}", status.HTTP_303_SEE_OTHER)


@router.get("/submissions/{submission_id}")
def submission_page(submission_id: SubmissionId, request: Request, user: PageUser, session: SessionDep):
    submission = visible_submission(session, submission_id, user)
    return render(
        request,
        "submission.html",
        {
            "user": user,
            "submission": submission,
            "assignment": submission.assignment,
            "adjusted": adjusted_total(submission.assignment, submission.total, submission.late_days),
        },
    )


@router.get("/submissions/{submission_id}/result")
def submission_result(submission_id: SubmissionId, request: Request, user: PageUser, session: SessionDep):
    """The result block alone, for the page to swap in once grading is done."""
    submission = visible_submission(session, submission_id, user)
    return render(
        request,
        "_result.html",
        {
            "user": user,
            "submission": submission,
            "adjusted": adjusted_total(submission.assignment, submission.total, submission.late_days),
        },
    )


@router.get("/submissions/{submission_id}/files")
def submission_files(
    submission_id: SubmissionId,
    request: Request,
    user: PageUser,
    session: SessionDep,
    path: str | None = None,
):
    """The files of a handin, read from the stored archive (never run)."""
    submission = visible_submission(session, submission_id, user)
    files = read_handin_files(submissions.blob_bytes(session, submission))
    if path is not None and path not in files:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no file {path!r} in this handin")
    shown = files[path].decode("utf-8", "replace") if path else None
    return render(
        request,
        "files.html",
        {"user": user, "submission": submission, "files": sorted(files), "path": path, "content": shown},
    )


@router.get("/assignments/{slug}/scoreboard")
def scoreboard_page(
    slug: str,
    request: Request,
    user: StaffPageUser,
    session: SessionDep,
    q: str = "",
    sort: str = Query("username", pattern="^(username|total|submissions|late)$"),
    page: int = Query(1, ge=1),
):
    assignment = assignment_by_slug(slug, session)
    board = scoreboard.build(session, assignment)
    rows = [row for row in board.rows if q.lower() in (row.username + " " + row.display_name).lower()]
    rows.sort(key=SORTS[sort])
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return render(
        request,
        "scoreboard.html",
        {
            "user": user,
            "assignment": assignment,
            "board": board,
            "rows": shown,
            "count": len(rows),
            "q": q,
            "sort": sort,
            "page": page,
            "pages": pages,
            "histogram": histogram(board),
            "graded": sum(row.total is not None for row in board.rows),
        },
    )


def histogram(board) -> dict:
    """Bars of the counted totals, one per point (an inline SVG draws them)."""
    top = int(board.max_score)
    counts = [0] * (top + 1)
    for row in board.rows:
        if row.adjusted_total is not None:
            counts[min(top, max(0, int(row.adjusted_total)))] += 1
    return {"counts": counts, "peak": max(counts) or 1}


@router.get("/assignments/{slug}/students/{username}")
def student_history(slug: str, username: str, request: Request, user: StaffPageUser, session: SessionDep):
    assignment = assignment_by_slug(slug, session)
    student = users.get_by_username(session, username)
    if student is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no student {username!r}")
    return render(
        request,
        "student.html",
        {
            "user": user,
            "assignment": assignment,
            "student": student,
            "history": submissions.list_for(session, assignment, student),
        },
    )


def settings_view(request: Request, user, assignment, status_code: int = 200, **shown):
    context = {"user": user, "assignment": assignment, "instances": assignments.instances(assignment)}
    return render(request, "settings.html", context | shown, status_code=status_code)


@router.get("/assignments/{slug}/settings")
def settings_page(slug: str, request: Request, user: StaffPageUser, session: SessionDep):
    return settings_view(request, user, assignment_by_slug(slug, session))


@router.post("/assignments/{slug}/rotate-secret")
def rotate_secret(slug: str, request: Request, user: StaffPageUser, session: SessionDep, form: CheckedForm):
    assignment = assignment_by_slug(slug, session)
    assignments.rotate_secret(session, assignment)
    return settings_view(request, user, assignment, rotated=True)


@router.post("/assignments/{slug}/settings")
def save_settings(slug: str, request: Request, user: StaffPageUser, session: SessionDep, form: CheckedForm):
    assignment = assignment_by_slug(slug, session)
    fields = {  # an emptied field means "none" where that is allowed, and "unchanged" elsewhere
        key: value or None
        for key, value in form.items()
        if key in AssignmentUpdate.model_fields and (value != "" or key in NULLABLE_SETTINGS)
    }
    fields["public_scoreboard"] = "public_scoreboard" in form
    try:
        changes = AssignmentUpdate(**fields).model_dump(exclude_unset=True)
        assignments.update(session, assignment, changes)
    except ValidationError as error:
        message = "; ".join(e["msg"] for e in error.errors())
        return settings_view(request, user, assignment, status_code=400, error=message)
    except InvalidSettings as error:
        return settings_view(request, user, assignment, status_code=400, error=str(error))
    return settings_view(request, user, assignment, saved=True)


@router.get("/assignments/{slug}/public")
def public_scoreboard(slug: str, request: Request, user: PageUser, session: SessionDep):
    """The class scoreboard with anonymous nicknames only (as Autolab does); a course can switch it off."""
    assignment = assignment_by_slug(slug, session)
    if not assignment.public_scoreboard:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this course has no public scoreboard")
    board = scoreboard.build(session, assignment)
    nicknames = {student.username: student.nickname for student in users.students(session)}
    rows = sorted(
        ((nicknames[row.username], row) for row in board.rows if row.adjusted_total is not None),
        key=lambda item: (-(item[1].adjusted_total or 0), item[0]),
    )
    mine = nicknames.get(user.username)
    return render(
        request,
        "public.html",
        {"user": user, "assignment": assignment, "board": board, "rows": rows, "mine": mine},
    )
