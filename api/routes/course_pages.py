"""Course-wide pages for staff: the course's settings, the roster and the gradebook."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from api.csrf import check_csrf
from api.deps import SessionDep, student_by_username
from api.web import CheckedForm, StaffPageUser, render
from core.errors import InvalidSettings, Refused
from core.models import Role, User
from core.services import audit, course, gradebook, roster
from core.timefmt import zones

router = APIRouter(include_in_schema=False)


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


def roster_view(request: Request, session: Session, user: User, status_code: int = 200, **shown):
    context = {"user": user, "people": roster.everyone(session), "roles": list(Role), "typed": {}}
    return render(request, "roster.html", context | shown, status_code=status_code)


@router.get("/roster")
def roster_page(request: Request, user: StaffPageUser, session: SessionDep):
    return roster_view(request, session, user)


@router.post("/roster/add")
def roster_add(request: Request, user: StaffPageUser, session: SessionDep, form: CheckedForm):
    try:
        person, password = roster.add(
            session,
            str(form.get("username", "")).strip(),
            str(form.get("name", "")).strip(),
            str(form.get("email", "")).strip(),
            roster.role_named(str(form.get("role", "student"))),
            user,
        )
    except Refused as error:
        session.rollback()
        return roster_view(request, session, user, 400, error=str(error), typed=form)
    session.commit()
    passwords = [(person.username, password)] if password else []
    return roster_view(
        request, session, user, passwords=passwords, done=f"{person.username} is on the roster"
    )


@router.post("/roster/import")
async def roster_import(
    request: Request,
    user: StaffPageUser,
    session: SessionDep,
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str, Form()] = "",
):
    """Adds or updates everyone of a roster CSV; all or nothing."""
    check_csrf(request, csrf_token)
    text = (await file.read()).decode("utf-8-sig", "replace")

    def apply():
        imported = roster.import_csv(session, text, user)
        session.commit()
        return imported

    try:
        imported = await run_in_threadpool(apply)
    except Refused as error:
        await run_in_threadpool(session.rollback)
        return await run_in_threadpool(roster_view, request, session, user, 400, error=str(error))
    done = f"imported {imported.count} person(s), {len(imported.passwords)} new"
    return await run_in_threadpool(
        roster_view, request, session, user, passwords=imported.passwords, done=done
    )


@router.post("/roster/{username}")
def roster_change(
    username: str, request: Request, user: StaffPageUser, session: SessionDep, form: CheckedForm
):
    """One person's row: set the role, drop or take back, reset the password."""
    person = student_by_username(session, username)
    action = str(form.get("action", ""))
    passwords = []
    try:
        if action == "role":
            roster.set_role(session, person, roster.role_named(str(form.get("role", ""))), user)
        elif action in ("drop", "restore"):
            roster.set_active(session, person, action == "restore", user)
        elif action == "password":
            passwords = [(person.username, roster.reset_password(session, person, user))]
        else:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"unknown action {action!r}")
    except Refused as error:
        session.rollback()
        return roster_view(request, session, user, 400, error=str(error))
    session.commit()
    if passwords:
        return roster_view(request, session, user, passwords=passwords, done=f"new password for {username}")
    return RedirectResponse(f"/roster#user-{username}", status.HTTP_303_SEE_OTHER)


@router.get("/gradebook")
def gradebook_page(request: Request, user: StaffPageUser, session: SessionDep):
    return render(request, "gradebook.html", {"user": user, "book": gradebook.build(session)})
