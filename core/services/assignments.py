"""Assignments and their deadline rules."""

from __future__ import annotations

import io
import re
import tarfile
from datetime import datetime
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidSettings
from core.models import Assignment, Blob, new_grading_secret
from core.services import audit, standings
from core.services.submissions import store_blob
from grader.instances import fingerprint
from grader.paths import HANDOUT_DIR, PROJECT_DIR


def get(session: Session, slug: str) -> Assignment | None:
    return session.scalar(select(Assignment).where(Assignment.slug == slug))


def all_assignments(session: Session) -> list[Assignment]:
    return list(session.scalars(select(Assignment).order_by(Assignment.due_at)))


def update(session: Session, assignment: Assignment, values: dict, actor: str = audit.CLI) -> None:
    """Applies changed settings ({field: value}), each with its audit event, and works the standing of
    the assignment's students out again when a rule of lateness or scoring changed. InvalidSettings
    (nothing changed) if the late deadline would end up before the due date."""
    if values.get("late_deadline_at", assignment.late_deadline_at) < values.get("due_at", assignment.due_at):
        raise InvalidSettings("the late deadline cannot be before the due date")
    if assignment.id is None:
        session.flush()  # a new assignment: its id for the audit trail
    changed = {field for field, value in values.items() if getattr(assignment, field) != value}
    if changed & STANDING_RULES:
        standings.lock(session, standings.students_of(session, assignment))
    for field in sorted(changed):
        old, new = getattr(assignment, field), values[field]
        setattr(assignment, field, new)
        audit.record(
            session,
            actor,
            "settings",
            assignment_id=assignment.id,
            what=field,
            old=shown(old),
            new=shown(new),
        )
    if changed & STANDING_RULES:
        session.flush()
        standings.refresh(session, standings.students_of(session, assignment))
    session.commit()


STANDING_RULES = {"due_at", "late_deadline_at", "late_penalty_per_day", "late_penalty_cap", "scoring"}


def shown(value: object) -> str:
    """A setting's value as the audit trail records it."""
    if value is None:
        return "none"
    return value.isoformat() if isinstance(value, datetime) else str(value)


def instances(assignment: Assignment) -> str:
    """The name of the hidden instances the assignment grades on (safe to show; reveals no secret)."""
    return fingerprint(bytes.fromhex(assignment.grading_secret))


def rotate_secret(session: Session, assignment: Assignment) -> str:
    """Draws new hidden instances: grading from now on (regrades too) uses them. Returns their name."""
    assignment.grading_secret = new_grading_secret()
    session.commit()
    return instances(assignment)


DIST_HANDOUT = PROJECT_DIR / "dist" / "handout.tar"  # `make handout` builds it


def handout(session: Session, assignment: Assignment) -> bytes:
    """The handout students download: the assignment's own if staff uploaded one, else the built
    dist/handout.tar, else the handout folder packed as `make handout` packs it."""
    if assignment.handout_sha256:
        return session.get(Blob, assignment.handout_sha256).data
    if DIST_HANDOUT.is_file():
        return DIST_HANDOUT.read_bytes()
    return packed_handout()


@cache
def packed_handout() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        archive.add(HANDOUT_DIR, arcname="handout", filter=without_caches)
    return out.getvalue()


def without_caches(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    name = member.name.rsplit("/", 1)[-1]
    return None if name == "__pycache__" or name.endswith(".pyc") else member


def writeup(session: Session, assignment: Assignment) -> tuple[str, bytes] | None:
    """The writeup staff uploaded (its file name and bytes), if any."""
    if not assignment.writeup_sha256:
        return None
    return assignment.writeup_name, session.get(Blob, assignment.writeup_sha256).data


def attach(session: Session, assignment: Assignment, kind: str, name: str, data: bytes, actor: str) -> None:
    """Stores the handout ("handout") or the writeup ("writeup") students download from now on."""
    if not data:
        raise InvalidSettings(f"the {kind} file is empty")
    if kind == "handout":
        check_tar(data)
    digest = store_blob(session, data)
    if kind == "handout":
        assignment.handout_sha256 = digest
    else:
        assignment.writeup_sha256, assignment.writeup_name = digest, safe_name(name) or "writeup.pdf"
    audit.record(
        session, actor, "file", assignment_id=assignment.id, what=kind, new=f"{name} ({len(data)} bytes)"
    )
    session.commit()


def check_tar(data: bytes) -> None:
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            archive.getmembers()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise InvalidSettings(f"the handout is not a tar archive ({error})") from None


def safe_name(name: str) -> str:
    """A file name fit for a download header: its last part, letters, digits, '.', '-', '_' only."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("\\", "/").rsplit("/", 1)[-1])[:100]
