"""Server-rendered pages for students and course staff."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, HTTPException, Query, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.csrf import check_csrf
from api.deps import (
    SessionDep,
    SubmissionId,
    assignment_by_slug,
    client_address,
    student_by_username,
    visible_submission,
)
from api.schemas import NULLABLE_SETTINGS, AssignmentUpdate
from api.uploads import accept_upload
from api.web import CheckedForm, PageUser, StaffPageUser, render
from core.config import get_settings
from core.errors import InvalidSettings
from core.models import Assignment, Submission, User, utcnow
from core.services import (
    assignments,
    audit,
    course,
    extensions,
    logins,
    overrides,
    scoreboard,
    standings,
    submissions,
    users,
)
from core.timefmt import zones
from grader.unpack import read_handin_files

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
COMMENT_CHARS = 8000
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


def assignment_context(session: Session, assignment: Assignment, user: User) -> dict:
    """What the assignment page shows the student: deadlines in force, submissions and grace days
    left, whether the upload form is open, and their history with the counted one marked."""
    history = submissions.list_for(session, assignment, user)
    return {
        "user": user,
        "assignment": assignment,
        "standing": standings.of(session, assignment, user, utcnow()),
        "history": history,
        "latest": history[0] if history else None,
        "released": assignment.scores_visible_to(user),
    }


@router.get("/assignments/{slug}")
def assignment_page(slug: str, request: Request, user: PageUser, session: SessionDep):
    return render(
        request, "assignment.html", assignment_context(session, assignment_by_slug(slug, session), user)
    )


@router.get("/assignments/{slug}/standing")
def standing_fragment(slug: str, request: Request, user: PageUser, session: SessionDep):
    """The usage line, the closed notice and the history table alone, for the page to swap in after an
    upload or a grading: one rendering, with or without JavaScript."""
    return render(
        request, "_standing.html", assignment_context(session, assignment_by_slug(slug, session), user)
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
    return render(request, "submission.html", submission_context(session, submission, user))


def submission_context(session: Session, submission: Submission, user: User, **shown) -> dict:
    context = {
        "user": user,
        "submission": submission,
        "assignment": submission.assignment,
        "released": submission.assignment.scores_visible_to(user),
        "events": audit.for_submission(session, submission.id) if user.is_staff else [],
        "typed": {},
    }
    return context | shown


@router.post("/submissions/{submission_id}/override")
def override_form(
    submission_id: SubmissionId, request: Request, user: StaffPageUser, session: SessionDep, form: CheckedForm
):
    """Sets or (empty points) clears an override of a test or the total, from the submission page."""
    submission = visible_submission(session, submission_id, user)
    test, points, reason = (
        str(form.get("test", "")),
        str(form.get("points", "")).strip(),
        str(form.get("reason", "")),
    )
    try:
        if points:
            overrides.set_override(
                session, submission, test, parse_points(points), reason, audit.actor_name(user)
            )
        elif not overrides.clear_override(session, submission, test, audit.actor_name(user), reason):
            raise InvalidSettings(f"{test or 'the total'} has no override to clear")
    except InvalidSettings as error:
        context = submission_context(session, submission, user, error=str(error), typed=form)
        return render(request, "submission.html", context, status_code=400)
    return RedirectResponse(f"/submissions/{submission_id}#grade", status.HTTP_303_SEE_OTHER)


def parse_points(text: str) -> float:
    try:
        points = float(text)
    except ValueError:
        raise InvalidSettings(f"points must be a number, not {text!r}") from None
    if points != points or points in (float("inf"), float("-inf")):
        raise InvalidSettings("points must be a finite number")
    return points


@router.post("/submissions/{submission_id}/comment")
def comment_form(
    submission_id: SubmissionId, request: Request, user: StaffPageUser, session: SessionDep, form: CheckedForm
):
    submission = visible_submission(session, submission_id, user)
    comment = str(form.get("comment", ""))
    if len(comment) > COMMENT_CHARS:
        context = submission_context(
            session, submission, user, error=f"a comment is at most {COMMENT_CHARS} characters", typed=form
        )
        return render(request, "submission.html", context, status_code=400)
    overrides.set_comment(session, submission, comment.strip(), audit.actor_name(user))
    return RedirectResponse(f"/submissions/{submission_id}#grade", status.HTTP_303_SEE_OTHER)


@router.get("/submissions/{submission_id}/result")
def submission_result(submission_id: SubmissionId, request: Request, user: PageUser, session: SessionDep):
    """The result block alone, for the page to swap in once grading is done."""
    submission = visible_submission(session, submission_id, user)
    return render(
        request,
        "_result.html",
        {"user": user, "submission": submission, "released": submission.assignment.scores_visible_to(user)},
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
    return render(
        request,
        "student.html",
        student_context(session, assignment, student_by_username(session, username), user),
    )


def student_context(session: Session, assignment: Assignment, student: User, user: User, **shown) -> dict:
    context = {
        "user": user,
        "assignment": assignment,
        "student": student,
        "standing": standings.of(session, assignment, student, utcnow()),
        "extension": extensions.get(session, assignment, student),
        "history": submissions.list_for(session, assignment, student),
        "events": audit.for_student(session, assignment.id, student.id),
        "released": True,
        "typed": {},
    }
    return context | shown


@router.post("/assignments/{slug}/students/{username}/extension")
def extension_form(
    slug: str, username: str, request: Request, user: StaffPageUser, session: SessionDep, form: CheckedForm
):
    """Grants (days) or, with "remove", takes back the student's extension."""
    assignment = assignment_by_slug(slug, session)
    student = student_by_username(session, username)
    reason = str(form.get("reason", ""))
    try:
        if "remove" in form:
            extensions.revoke(session, assignment, student, audit.actor_name(user), reason)
        else:
            days = str(form.get("days", "")).strip()
            if not days.isdigit():
                raise InvalidSettings(f"an extension is a whole number of days, not {days!r}")
            extensions.grant(session, assignment, student, int(days), audit.actor_name(user), reason)
    except InvalidSettings as error:
        context = student_context(session, assignment, student, user, error=str(error), typed=form)
        return render(request, "student.html", context, status_code=400)
    return RedirectResponse(f"/assignments/{slug}/students/{username}", status.HTTP_303_SEE_OTHER)


def settings_view(request: Request, user, assignment, status_code: int = 200, **shown):
    context = {
        "user": user,
        "assignment": assignment,
        "instances": assignments.instances(assignment),
        "typed": {},
    }
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
    fields["scores_released"] = "scores_released" in form
    try:
        changes = AssignmentUpdate(**fields).model_dump(exclude_unset=True)
        assignments.update(session, assignment, changes, audit.actor_name(user))
    except ValidationError as error:
        message = "; ".join(e["msg"] for e in error.errors())
        return settings_view(request, user, assignment, status_code=400, error=message, typed=form)
    except InvalidSettings as error:
        return settings_view(request, user, assignment, status_code=400, error=str(error), typed=form)
    return settings_view(request, user, assignment, saved=True)


@router.get("/assignments/{slug}/public")
def public_scoreboard(slug: str, request: Request, user: PageUser, session: SessionDep):
    """The class scoreboard with anonymous nicknames only (as Autolab does); a course can switch it off."""
    assignment = assignment_by_slug(slug, session)
    if not assignment.public_scoreboard:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this course has no public scoreboard")
    if not assignment.scores_visible_to(user):
        return render(request, "public.html", {"user": user, "assignment": assignment, "held": True})
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


@router.get("/course")
def course_page(request: Request, user: StaffPageUser, session: SessionDep):
    return course_view(request, session, user)


def course_view(request: Request, session: Session, user: User, status_code: int = 200, **shown):
    context = {
        "user": user,
        "course": course.get(session),
        "zones": sorted(zones()),
        "events": audit.for_course(session),
        "typed": {},
    }
    return render(request, "course.html", context | shown, status_code=status_code)


@router.post("/course")
def save_course(request: Request, user: StaffPageUser, session: SessionDep, form: CheckedForm):
    grace = str(form.get("grace_days", "")).strip()
    try:
        if not grace.isdigit() or int(grace) > 365:
            raise InvalidSettings(f"grace days are a whole number from 0 to 365, not {grace!r}")
        values = {"time_zone": str(form.get("time_zone", "")).strip(), "grace_days": int(grace)}
        course.update(session, values, audit.actor_name(user))
    except InvalidSettings as error:
        session.rollback()
        return course_view(request, session, user, 400, error=str(error), typed=form)
    return course_view(request, session, user, saved=True)
