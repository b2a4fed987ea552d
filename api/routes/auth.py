"""Logging in and out (session cookie) and who am I."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel

from api.csrf import csrf_token
from api.deps import CurrentUser, SessionDep, client_address
from api.schemas import LoginOut, UserOut
from core.config import get_settings
from core.services import logins

router = APIRouter(tags=["auth"])


class Credentials(BaseModel):
    username: str
    password: str


@router.post("/auth/login", response_model=LoginOut)
def login(credentials: Credentials, request: Request, session: SessionDep):
    """Starts a cookie session; later unsafe requests must carry the returned csrf_token as X-CSRF-Token."""
    try:
        user = logins.attempt(
            session,
            credentials.username,
            credentials.password,
            client_address(request),
            get_settings().login_attempts_per_minute,
        )
    except logins.TooManyAttempts:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed logins: wait a minute",
            headers={"Retry-After": str(logins.TooManyAttempts.retry_after_s)},
        ) from None
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    request.session.clear()
    request.session["user_id"] = user.id
    return LoginOut(
        username=user.username, display_name=user.display_name, role=user.role, csrf_token=csrf_token(request)
    )


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request):
    request.session.clear()


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser):
    return user
