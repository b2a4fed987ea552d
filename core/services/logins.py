"""Login throttling: too many failures for one username in a minute and further tries wait.

The limit counts per username and client address, so that guessing from one place cannot lock a
student out from another; a higher limit per username alone bounds guessing from many addresses.
Each try is written down before the password is checked, so concurrent guesses cannot all slip in
under the limit.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.models import LoginFailure, User, utcnow

WINDOW = timedelta(minutes=1)
KEEP = timedelta(hours=1)
FROM_ANYWHERE = 5  # the limit per username, from all addresses together, is this many times the limit


class TooManyAttempts(Exception):
    """Too many failed logins for this username just now."""

    retry_after_s = int(WINDOW.total_seconds())


def attempt(session: Session, username: str, password: str, address: str, limit: int) -> User | None:
    """The user if the password is right; None if wrong; TooManyAttempts once `limit` failures a minute
    from this address (or FROM_ANYWHERE times that from all addresses) for this username."""
    from core.services.users import authenticate

    if not (storable(username) and storable(password)):  # no account has such a name or password
        return None
    name, address = username[:64], address[:64]  # as the table holds them
    session.execute(delete(LoginFailure).where(LoginFailure.at < utcnow() - KEEP))
    this_try = LoginFailure(username=name, address=address)
    session.add(this_try)
    session.commit()
    recent = select(func.count()).where(LoginFailure.username == name, LoginFailure.at > utcnow() - WINDOW)
    from_here = session.scalar(recent.where(LoginFailure.address == address)) or 0
    if from_here > limit or (session.scalar(recent) or 0) > limit * FROM_ANYWHERE:
        session.delete(this_try)  # a refused try is not a failure: it does not prolong the wait
        session.commit()
        raise TooManyAttempts
    user = authenticate(session, username, password)
    if user is not None:
        session.delete(this_try)
        session.commit()
    return user


def storable(text: str) -> bool:
    """Whether `text` can reach the database and the password hasher: no NUL, no lone surrogates."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
