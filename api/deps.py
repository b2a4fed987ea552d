"""Request dependencies: database session, current user (session cookie or bearer token), roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.csrf import HEADER, check_csrf
from core.db import get_session
from core.models import Assignment, Submission, User
from core.services import assignments, submissions, users

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SubmissionId = Annotated[int, Path(ge=1, le=2**31 - 1, description="a submission id")]
SessionDep = Annotated[Session, Depends(get_session)]
bearer = HTTPBearer(auto_error=False, description="an API token from `python -m api token issue`")


def client_address(request: Request) -> str:
    """The caller's address, as the login throttle counts it."""
    return request.client.host if request.client else ""


def release_connection(session: Session) -> None:
    """Ends a dependency's read-only transaction so that its pooled connection goes back at once.

    The loaded objects stay usable (the sessions do not expire on commit). Without this, an async
    route such as the upload holds a connection while it awaits the thread pool, and a burst of
    uploads deadlocks until the pool's timeout: every connection held by a request waiting for a
    thread, every thread waiting for a connection (found by bench/rush.py).
    """
    session.commit()


def request_user(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User | None:
    """The caller, by API token or else by session cookie; None if neither. No CSRF check here: the
    JSON API checks the header (`optional_user`), and each page form checks its own hidden field."""
    if credentials is not None:
        user = users.user_for_token(session, credentials.credentials)
        if user is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "invalid or revoked API token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        session.commit()  # last_used_at; also gives the connection back, as release_connection does
        return user
    user_id = request.session.get("user_id")
    if user_id is None:
        return None
    user = session.get(User, user_id)
    release_connection(session)
    return user if session_holds(request, user) else None


def session_holds(request: Request, user: User | None) -> bool:
    """Whether the login session is still good for `user`: active, and the password unchanged since."""
    return user is not None and user.active and request.session.get("key") == users.session_key(user)


def optional_user(
    request: Request,
    user: Annotated[User | None, Depends(request_user)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User | None:
    """The API's caller. A change made with the session cookie must carry the session's CSRF token in
    the X-CSRF-Token header: a cookie rides along on cross-site requests, a header cannot be added."""
    if credentials is None and user is not None and request.method not in SAFE_METHODS:
        check_csrf(request, request.headers.get(HEADER))
    return user


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "log in, or send an API token as 'Authorization: Bearer'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


def staff_user(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_staff:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "course staff only")
    return user


def visible_submission(session: Session, submission_id: int, user: User) -> Submission:
    """The submission, if the user may see it (pages and the API alike); 404 otherwise."""
    submission = submissions.visible(session, submission_id, user)
    if submission is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such submission")
    return submission


def assignment_by_slug(slug: str, session: SessionDep) -> Assignment:
    assignment = assignments.get(session, slug)
    release_connection(session)
    if assignment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no assignment {slug!r}")
    return assignment


CurrentUser = Annotated[User, Depends(current_user)]
StaffUser = Annotated[User, Depends(staff_user)]
AssignmentDep = Annotated[Assignment, Depends(assignment_by_slug)]


def student_by_username(session: Session, username: str) -> User:
    """A user of the roster by username (pages and the API alike); 404 if there is none."""
    student = users.get_by_username(session, username)
    if student is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no student {username!r}")
    return student
