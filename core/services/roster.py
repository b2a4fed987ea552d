"""The course's roster: adding people (one by one or from a CSV), dropping them, resetting a password,
setting a role. Each change is audited. Dropped students keep their submissions but leave the
scoreboard and can no longer log in."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import security
from core.errors import InvalidSettings, Refused
from core.models import Role, User
from core.services import audit, users

USERNAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"  # also what a handin's file name may carry
NAME_CHARS = 200  # as the users table holds them
EMAIL_CHARS = 254
COLUMNS = "username,name,email,role"


def everyone(session: Session) -> list[User]:
    """Every user, staff first, then by username."""
    people = session.scalars(select(User).order_by(User.username))
    return sorted(people, key=lambda user: (user.role == Role.student, not user.active))


def check_username(username: str) -> None:
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise InvalidSettings(
            f"{username!r} is not a username: up to 64 letters, digits, '.', '-' or '_', "
            "starting with a letter or digit"
        )


def role_named(name: str) -> Role:
    """The role of that name; InvalidSettings if there is none."""
    if name not in Role.__members__:
        raise InvalidSettings(f"unknown role {name!r} (student, ta or admin)")
    return Role(name)


def check_text(what: str, text: str, limit: int) -> None:
    """InvalidSettings for a name or email that is too long or holds control characters."""
    if len(text) > limit:
        raise InvalidSettings(f"the {what} has more than {limit} characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise InvalidSettings(f"the {what} holds a control character")


def check_may_manage(person: User, actor: User | None) -> None:
    """Staff manage students; only an admin manages staff accounts (a TA who could reset an admin's
    password would be an admin). `actor` None is the admin CLI."""
    if actor is not None and person.role != Role.student and actor.role != Role.admin:
        raise Refused(f"only an admin changes the account of {person.username} ({person.role.value})")


def record(session: Session, actor: str, person: User, what: str, old: str = "", new: str = "") -> None:
    audit.record(session, actor, "roster", student_id=person.id, what=what, old=old, new=new)


def add(
    session: Session, username: str, name: str, email: str, role: Role, actor: User | None
) -> tuple[User, str | None]:
    """Adds a person (or updates their name, email and role); a new one gets a random password,
    returned once. Returns (user, password or None). `actor` None is the admin CLI."""
    check_username(username)
    check_text("name", name, NAME_CHARS)
    check_text("email", email, EMAIL_CHARS)
    existing = users.get_by_username(session, username)
    if existing is None and (other := users.get_by_username(session, username, any_case=True)):
        raise InvalidSettings(
            f"{username!r} differs from {other.username!r} only in case: one person, one name"
        )
    if actor is not None:
        check_role_change(existing.role if existing else role, role, actor)
    if existing is not None:
        check_update(existing, name, email, role, actor)
    password = None if existing else security.random_password()
    person, created = users.upsert_user(
        session, username, display_name=name, email=email, role=role, password=password
    )
    person.active = True
    record(
        session,
        audit.actor_name(actor),
        person,
        "added" if created else "updated",
        new=f"{role.value} {name}".strip(),
    )
    return person, password


def check_update(person: User, name: str, email: str, role: Role, actor: User | None) -> None:
    """Refuses an update of someone already on the roster (as add and an import make it) that the
    actor may not make: of a staff account by a TA, or of their own role. An unchanged row passes."""
    now = (person.role, person.display_name, person.email, person.active)
    if now == (role, name or person.display_name, email or person.email, True):
        return
    check_may_manage(person, actor)
    if actor is not None and person.id == actor.id and person.role != role:
        raise Refused("you cannot change your own role")


@dataclass(frozen=True)
class Imported:
    count: int
    passwords: list[tuple[str, str]]  # (username, password) of the people new to the roster


def import_csv(session: Session, text: str, actor: User | None) -> Imported:
    """Adds or updates everyone of a roster CSV (a header row with `username`, and `name`, `email`,
    `role` if wanted). All or nothing: InvalidSettings names the first bad line, and nothing changes."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        fields, rows = reader.fieldnames or [], list(reader)
    except csv.Error as error:
        raise InvalidSettings(f"the roster is not a CSV file ({error})") from None
    if "username" not in fields:
        raise InvalidSettings(f"the roster needs a header row: {COLUMNS} (username at least)")
    count, passwords, seen = 0, [], {}
    for line, row in enumerate(rows, start=2):
        username = (row.get("username") or "").strip()
        if username.lower() in seen:
            raise InvalidSettings(f"line {line}: {username!r} is on line {seen[username.lower()]} already")
        seen[username.lower()] = line
        try:
            person, password = add(
                session,
                username,
                (row.get("name") or "").strip(),
                (row.get("email") or "").strip(),
                role_named((row.get("role") or "").strip().lower() or "student"),
                actor,
            )
        except InvalidSettings as error:
            raise InvalidSettings(f"line {line}: {error}") from None
        count += 1
        if password:
            passwords.append((person.username, password))
    return Imported(count, passwords)


def set_active(session: Session, person: User, active: bool, actor: User) -> None:
    """Drops a person (they can no longer log in; their tokens stop working) or takes them back."""
    if person.id == actor.id:
        raise Refused("you cannot drop yourself")
    check_may_manage(person, actor)
    if person.active != active:
        person.active = active
        if not active:
            users.revoke_tokens(session, person)
        record(session, actor.username, person, "active", str(not active).lower(), str(active).lower())


def reset_password(session: Session, person: User, actor: User | None) -> str:
    """Gives the person a new random password, returned once. Whoever held the old one is out: their
    sessions end (they are bound to the password) and their API tokens are revoked."""
    check_may_manage(person, actor)
    password = security.random_password()
    person.password_hash = security.hash_password(password)
    users.revoke_tokens(session, person)
    record(session, audit.actor_name(actor), person, "password", new="reset")
    return password


def check_role_change(old: Role, new: Role, actor: User) -> None:
    if Role.admin in (old, new) and actor.role != Role.admin:
        raise Refused("only an admin grants or takes the admin role")


def set_role(session: Session, person: User, role: Role, actor: User) -> None:
    """Changes a person's role. Only an admin grants or takes the admin role, and nobody changes their
    own (a course cannot lock its staff out)."""
    if person.id == actor.id:
        raise Refused("you cannot change your own role")
    check_role_change(person.role, role, actor)
    check_may_manage(person, actor)
    if person.role != role:
        record(session, actor.username, person, "role", person.role.value, role.value)
        person.role = role
