"""Helpers for the server-rendered pages: templates, the logged-in user, errors as pages."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.csrf import FORM_FIELD, check_csrf, csrf_token
from api.deps import request_user, session_holds
from core.config import get_settings
from core.db import session_factory
from core.models import User, utcnow
from core.services import standings, workers
from core.services.workers import GradingState
from core.timefmt import countdown, local_text

log = logging.getLogger(__name__)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["csrf_field"] = FORM_FIELD


@pass_context
def local_time(context: Context, at: datetime) -> Markup:
    """A date-time in the course's time zone; the page adds the viewer's own time beside it."""
    zone = context.get("zone", "UTC")
    return Markup('<time datetime="{}" data-zone="{}">{}</time>').format(
        at.isoformat(), zone, local_text(at, zone)
    )


def countdown_text(at: datetime, future: str = "due", past: str = "was due") -> Markup:
    """E.g. "due in 2 days 3 h", kept current by the page's script."""
    html = '<span class="countdown" data-countdown="{}" data-future="{}" data-past="{}">{}</span>'
    return Markup(html).format(at.isoformat(), future, past, countdown(at, utcnow(), future, past))


def short_test(name: str) -> Markup:
    """A test's name short enough for a column header, wrapping after each arrow:
    "Question 2.1 - Linear->ReLU->Dropout (Forward)" -> "Q2.1 Linear→ReLU→Dropout (Forward)"."""
    short = re.sub(r"^Question\s+([\d.]+)\s*-\s*", r"Q\1 ", name)
    return Markup("→<wbr>").join(escape(part) for part in short.split("->"))


templates.env.filters["local"] = local_time
templates.env.filters["short_test"] = short_test
templates.env.filters["countdown"] = countdown_text


class LoginRequired(Exception):
    def __init__(self, next_path: str):
        self.next_path = next_path


def page_user(request: Request, user: Annotated[User | None, Depends(request_user)]) -> User:
    """The logged-in user of a page; a page that changes something checks its form's CSRF field."""
    if user is None:
        raise LoginRequired(request.url.path)
    return user


def staff_page_user(user: Annotated[User, Depends(page_user)]) -> User:
    if not user.is_staff:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this page is for course staff only")
    return user


PageUser = Annotated[User, Depends(page_user)]
StaffPageUser = Annotated[User, Depends(staff_page_user)]


async def checked_form(request: Request) -> dict:
    """The submitted form, after checking its CSRF token."""
    form = await request.form()
    check_csrf(request, form.get(FORM_FIELD))
    return dict(form)


CheckedForm = Annotated[dict, Depends(checked_form)]


def render(request: Request, name: str, context: dict | None = None, status_code: int = 200) -> HTMLResponse:
    context = {"csrf_token": csrf_token(request), **(context or {})}
    user = context.get("user")
    with session_factory()() as session:
        context.setdefault("zone", standings.course_time_zone(session))
        if user is not None and user.is_staff:
            context["grading"] = grading_notice(session)
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def grading_notice(session: Session) -> GradingState | None:
    """What staff must know about the workers: none can grade, or one grades in a weak sandbox."""
    state = workers.grading_state(session, get_settings().worker_gone_after_s)
    return state if state.problem or state.weak else None


def submit_command(request: Request, token: str) -> str:
    """The upload command of the handout's submit.py, for this server."""
    return f"python3 submit.py handin.tar --server {str(request.base_url).rstrip('/')} --token {token}"


def is_page(request: Request) -> bool:
    return not request.url.path.startswith("/api/")


async def login_required_handler(request: Request, exc: LoginRequired):
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status.HTTP_303_SEE_OTHER)


RETRY_AFTER_S = 5


async def database_unavailable_handler(request: Request, exc: Exception):
    """The database is unreachable: 503 with Retry-After, as JSON (the API) or a page."""
    log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    detail = "the service is temporarily unavailable (its database cannot be reached); try again shortly"
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if is_page(request):
        page = templates.TemplateResponse(
            request,
            "error.html",
            {"status": 503, "title": "Temporarily unavailable", "detail": detail, "user": None},
            status_code=503,
        )
        page.headers.update(headers)
        return page
    return JSONResponse({"detail": detail}, status_code=503, headers=headers)


async def http_error_handler(request: Request, exc: StarletteHTTPException):
    """Pages get an error page; the JSON API keeps its JSON errors."""
    if not is_page(request):
        from fastapi.exception_handlers import http_exception_handler

        return await http_exception_handler(request, exc)
    titles = {403: "Not allowed", 404: "Not found", 400: "Rejected", 413: "Too large"}
    return render(
        request,
        "error.html",
        {
            "status": exc.status_code,
            "title": titles.get(exc.status_code, "Error"),
            "detail": exc.detail,
            "user": logged_in(request),
        },
        status_code=exc.status_code,
    )


def logged_in(request: Request) -> User | None:
    """Who is logged in on this browser (an error page still shows their name and links)."""
    user_id = "session" in request.scope and request.session.get("user_id")
    if not user_id:
        return None
    with session_factory()() as session:
        user = session.get(User, user_id)
        return user if session_holds(request, user) else None
