"""Login throttling: too many failures for one username in a minute and further tries wait."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from api.models import LoginFailure, utcnow

WINDOW = timedelta(minutes=1)
KEEP = timedelta(hours=1)


def recent_failures(session: Session, username: str) -> int:
    since = utcnow() - WINDOW
    return (
        session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.username == username, LoginFailure.at > since)
        )
        or 0
    )


def record_failure(session: Session, username: str, address: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.at < utcnow() - KEEP))
    session.add(LoginFailure(username=username[:64], address=address[:64]))
    session.commit()


class TooManyAttempts(Exception):
    """Too many failed logins for this username just now."""

    retry_after_s = int(WINDOW.total_seconds())


def attempt(session: Session, username: str, password: str, address: str, limit: int):
    """The user if the password is right; None if wrong; TooManyAttempts once `limit` failures a minute."""
    from api.crud.users import authenticate

    if "\x00" in username:  # no account has such a name, and PostgreSQL text cannot hold it
        return None
    if recent_failures(session, username) >= limit:
        raise TooManyAttempts
    user = authenticate(session, username, password)
    if user is None:
        record_failure(session, username, address)
    return user
