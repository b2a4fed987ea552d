"""Users and API tokens."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import security
from core.models import ApiToken, Role, User, utcnow

TOKEN_USE_GRANULARITY = timedelta(minutes=1)  # how precisely a token's last use is kept


def get_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def unique_nickname(session: Session) -> str:
    while True:
        nickname = security.random_nickname()
        if session.scalar(select(User.id).where(User.nickname == nickname)) is None:
            return nickname


def upsert_user(
    session: Session,
    username: str,
    *,
    display_name: str = "",
    email: str = "",
    role: Role = Role.student,
    password: str | None = None,
) -> tuple[User, bool]:
    """Creates or updates a user; returns (user, created). The password is only changed if given."""
    user = get_by_username(session, username)
    created = user is None
    if user is None:
        user = User(username=username, nickname=unique_nickname(session))
        session.add(user)
    user.display_name = display_name or user.display_name or username
    user.email = email or user.email
    user.role = role
    if password is not None:
        user.password_hash = security.hash_password(password)
    session.flush()
    return user, created


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = get_by_username(session, username)
    ok = security.verify_password(password, user.password_hash if user else None)
    return user if ok and user is not None and user.active else None


def issue_token(session: Session, user: User, name: str = "") -> str:
    """Creates a token and returns it in clear: the only time it is ever shown."""
    token = security.new_token()
    session.add(
        ApiToken(
            user_id=user.id,
            name=name,
            token_hash=security.hash_token(token),
            prefix=token[: len(security.TOKEN_PREFIX) + 4],
        )
    )
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == security.hash_token(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None or not row.user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_USE_GRANULARITY:
        row.last_used_at = now  # not on every request: a burst of uploads writes it once per token
    return row.user


def revoke_tokens(session: Session, user: User, prefix: str | None = None) -> int:
    """Revokes a user's tokens (those starting with `prefix`, or all); returns how many."""
    query = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    count = 0
    for token in session.scalars(query):
        if prefix is None or token.prefix.startswith(prefix) or prefix.startswith(token.prefix):
            token.revoked_at = utcnow()
            count += 1
    return count


def students(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.role == Role.student).order_by(User.username)))
