"""Server-rendered pages for students and course staff."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    File,
    Form,
    HTTPException,
    Path,
    Query,
    Request,
    UploadFile,
    status,
)
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
from api.web import CheckedForm, PageUser, StaffPageUser, render, submit_command
from core.config import get_settings
from core.errors import InvalidSettings, NotFound, Refused
from core.models import Assignment, Submission, User, utcnow
from core.services import (
    assignments,
    audit,
    extensions,
    logins,
    overrides,
    scoreboard,
    standings,
    submissions,
    users,
)
from grader.unpack import read_handin_files

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
PUBLIC_ROWS = 10_000  # the public scoreboard lists every graded student, up to this many
COMMENT_CHARS = 8000


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
    request.session.update({"user_id": user.id, "key": users.session_key(user), "csrf": csrf})
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


@dataclass(frozen=True)
class BoardQuery:
    """What the staff scoreboard page shows: a search, a filter, an order and a page."""

    q: str
    show: scoreboard.Show
    sort: scoreboard.Sort
    order: str
    page: int


def board_query(
    q: str = Query("", max_length=100),
    show: scoreboard.Show = scoreboard.Show.all,
    sort: scoreboard.Sort = scoreboard.Sort.username,
    order: str = Query("asc", pattern="^(asc|desc)$"),
    page: int = Query(1, ge=1, le=10**6),
) -> BoardQuery:
    return BoardQuery(q, show, sort, order, page)


BoardQueryDep = Annotated[BoardQuery, Depends(board_query)]


def scoreboard_view(session: Session, assignment: Assignment, query: BoardQuery) -> dict:
    """One page of the staff scoreboard; a page past the last shows the last."""
    view = scoreboard.View(query.q, query.show, query.sort, query.order == "desc", 0, PAGE_SIZE)
    page = query.page
    board = scoreboard.page(session, assignment, replace(view, offset=(page - 1) * PAGE_SIZE))
    pages = max(1, math.ceil(board.total / PAGE_SIZE))
    if page > pages:
        page = pages
        board = scoreboard.page(session, assignment, replace(view, offset=(page - 1) * PAGE_SIZE))
    return {"assignment": assignment, "board": board, "query": replace(query, page=page), "pages": pages}


@router.get("/assignments/{slug}/scoreboard")
def scoreboard_page(
    slug: str, request: Request, user: StaffPageUser, session: SessionDep, query: BoardQueryDep
):
    assignment = assignment_by_slug(slug, session)
    context = scoreboard_view(session, assignment, query)
    stats = scoreboard.stats(session, assignment)
    return render(request, "scoreboard.html", context | {"user": user, "stats": stats, "chart": chart(stats)})


@router.get("/assignments/{slug}/scoreboard/table")
def scoreboard_table(
    slug: str, request: Request, user: StaffPageUser, session: SessionDep, query: BoardQueryDep
):
    """The table alone, for the page to swap in when a regrade ends."""
    assignment = assignment_by_slug(slug, session)
    return render(
        request, "_scoreboard_table.html", scoreboard_view(session, assignment, query) | {"user": user}
    )


def chart(stats: scoreboard.Stats) -> dict:
    """The histogram's geometry: one bar per point, labelled with its count, with mean and median."""
    width, left, bottom, height = 520.0, 34.0, 150.0, 110.0
    bars = len(stats.histogram)
    step = width / bars
    peak = max(stats.histogram) or 1

    def x(score: float) -> float:
        return left + min(score, bars - 1) * step + step / 2

    return {
        "step": step,
        "left": left,
        "bottom": bottom,
        "peak": peak,
        "bars": [
            {"x": left + i * step, "h": height * count / peak, "count": count, "points": i}
            for i, count in enumerate(stats.histogram)
        ],
        "mean_x": x(stats.mean) if stats.mean is not None else None,
        "median_x": x(stats.median) if stats.median is not None else None,
    }


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


@router.post("/assignments/{slug}/files")
async def files_form(
    slug: str,
    request: Request,
    user: StaffPageUser,
    session: SessionDep,
    handout: Annotated[UploadFile | None, File()] = None,
    writeup: Annotated[UploadFile | None, File()] = None,
    csrf_token: Annotated[str, Form()] = "",
):
    """Publishes the handout and/or the writeup chosen on the settings page."""
    check_csrf(request, csrf_token)
    assignment = await run_in_threadpool(assignment_by_slug, slug, session)
    chosen = {
        kind: upload
        for kind, upload in (("handout", handout), ("writeup", writeup))
        if upload and upload.filename
    }
    try:
        for kind, upload in chosen.items():
            data = await upload.read()
            await run_in_threadpool(
                assignments.attach, session, assignment, kind, upload.filename, data, audit.actor_name(user)
            )
    except InvalidSettings as error:
        return await run_in_threadpool(settings_view, request, user, assignment, 400, error=str(error))
    return await run_in_threadpool(settings_view, request, user, assignment, published=sorted(chosen))


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
    view = scoreboard.View(
        show=scoreboard.Show.graded, sort=scoreboard.Sort.total, descending=True, limit=PUBLIC_ROWS
    )
    board = scoreboard.page(session, assignment, view)
    rows = sorted(
        board.rows, key=lambda row: (-(row.adjusted_total or 0), row.nickname)
    )  # ties: no username order
    return render(
        request,
        "public.html",
        {"user": user, "assignment": assignment, "board": board, "rows": rows, "mine": user.nickname},
    )


def account_view(request: Request, session: Session, user: User, status_code: int = 200, **shown):
    context = {"user": user, "tokens": users.tokens_of(session, user), "typed": {}}
    return render(request, "account.html", context | shown, status_code=status_code)


@router.get("/account")
def account_page(request: Request, user: PageUser, session: SessionDep):
    return account_view(request, session, user)


@router.post("/account/tokens")
def account_issue_token(request: Request, user: PageUser, session: SessionDep, form: CheckedForm):
    """A new API token, shown once on the page with the submit.py command for this server."""
    try:
        _, token = users.new_token(session, user, str(form.get("name", "")))
    except InvalidSettings as error:
        return account_view(request, session, user, 400, token_error=str(error))
    session.commit()
    return account_view(request, session, user, issued=token, command=submit_command(request, token))


@router.post("/account/tokens/{token_id}/revoke")
def account_revoke_token(
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    request: Request,
    user: PageUser,
    session: SessionDep,
    form: CheckedForm,
):
    try:
        users.revoke_token(session, user, token_id)
    except NotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    return RedirectResponse("/account#tokens", status.HTTP_303_SEE_OTHER)


@router.post("/account/password")
def account_password(request: Request, user: PageUser, session: SessionDep, form: CheckedForm):
    new = str(form.get("new_password", ""))
    try:
        if new != str(form.get("repeat_password", "")):
            raise InvalidSettings("the new password and its repetition differ")
        users.change_password(session, user, str(form.get("current_password", "")), new)
    except Refused as error:
        return account_view(request, session, user, 400, password_error=str(error))
    request.session["key"] = users.session_key(user)  # this session goes on; the others end
    return account_view(request, session, user, password_changed=True)
