"""Logging in and out (session cookie), who am I, and one's own API tokens and password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from pydantic import BaseModel

from api.csrf import csrf_token
from api.deps import CurrentUser, SessionDep, client_address
from api.schemas import LoginOut, PasswordChange, TokenIn, TokenIssued, TokenOut, UserOut
from api.web import submit_command
from core.config import get_settings
from core.errors import InvalidSettings, NotFound, WrongPassword
from core.services import logins, users

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
    request.session.update({"user_id": user.id, "key": users.session_key(user)})
    return LoginOut(
        username=user.username, display_name=user.display_name, role=user.role, csrf_token=csrf_token(request)
    )


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request):
    request.session.clear()


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser):
    return user


@router.get("/me/tokens", response_model=list[TokenOut])
def my_tokens(user: CurrentUser, session: SessionDep):
    """Your API tokens that still work (their first characters only)."""
    return users.tokens_of(session, user)


@router.post("/me/tokens", response_model=TokenIssued, status_code=status.HTTP_201_CREATED)
def issue_token(body: TokenIn, request: Request, user: CurrentUser, session: SessionDep):
    """A new API token for submit.py: shown in this answer only, with the command that uses it."""
    try:
        issued, token = users.new_token(session, user, body.name)
    except InvalidSettings as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    session.commit()
    return TokenIssued.model_validate(
        {
            **TokenOut.model_validate(issued).model_dump(),
            "token": token,
            "submit_command": submit_command(request, token),
        }
    )


@router.delete("/me/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], user: CurrentUser, session: SessionDep):
    try:
        users.revoke_token(session, user, token_id)
    except NotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None


@router.put("/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(body: PasswordChange, request: Request, user: CurrentUser, session: SessionDep):
    """Set a new password (at least 10 characters), giving the current one. Every other login session
    ends; the caller's goes on."""
    try:
        users.change_password(session, user, body.current_password, body.new_password)
    except WrongPassword as error:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(error)) from None
    except InvalidSettings as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    if request.session.get("user_id") == user.id:
        request.session["key"] = users.session_key(user)
