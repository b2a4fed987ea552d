"""Users and API tokens."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import security
from core.errors import InvalidSettings, NotFound, WrongPassword
from core.models import ApiToken, Role, User, utcnow

TOKEN_USE_GRANULARITY = timedelta(minutes=1)  # how precisely a token's last use is kept
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 200
TOKEN_NAME_CHARS = 100


def get_by_username(session: Session, username: str, any_case: bool = False) -> User | None:
    """The user of that name (`any_case`: or of the same name in other letter cases)."""
    if any_case:
        return session.scalar(select(User).where(func.lower(User.username) == username.lower()).limit(1))
    return session.scalar(select(User).where(User.username == username))


def session_key(user: User) -> str:
    """What a login session holds beside the user's id: it changes with the password, so a new
    password (changed or reset) ends every session opened with the old one."""
    return security.hash_token(f"session:{user.id}:{user.password_hash or ''}")[:32]


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
    return new_token(session, user, name)[1]


def new_token(session: Session, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Creates a token: its row, and the token in clear (the only time it is ever shown)."""
    if len(name) > TOKEN_NAME_CHARS or any(ord(char) < 32 for char in name):
        raise InvalidSettings(f"a token's name has up to {TOKEN_NAME_CHARS} characters, none of them control")
    token = security.new_token()
    row = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=security.hash_token(token),
        prefix=token[: len(security.TOKEN_PREFIX) + 4],
    )
    session.add(row)
    session.flush()
    return row, token


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


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """The user's tokens that still work, newest first."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.id.desc())
        )
    )


def revoke_token(session: Session, user: User, token_id: int) -> None:
    """Revokes one of the user's own tokens; NotFound if they have no such token."""
    token = session.scalar(
        select(ApiToken).where(
            ApiToken.id == token_id, ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)
        )
    )
    if token is None:
        raise NotFound("no such token")
    token.revoked_at = utcnow()
    session.commit()


def check_password(password: str) -> None:
    """InvalidSettings unless `password` is long enough to be a password."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidSettings(f"a password has at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidSettings(f"a password has at most {MAX_PASSWORD_CHARS} characters")


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """Sets a new password once the current one is given; WrongPassword or InvalidSettings if not."""
    if not security.verify_password(current, user.password_hash):
        raise WrongPassword("the current password is wrong")
    check_password(new)
    user.password_hash = security.hash_password(new)
    session.commit()


def students(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.role == Role.student).order_by(User.username)))
