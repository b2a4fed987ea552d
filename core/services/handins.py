"""Handins as files: one to download, or every counted handin of an assignment in one tar."""

from __future__ import annotations

import io
import re
import tarfile
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Assignment, Blob, Role, Submission, User


def filename(username: str, version: int) -> str:
    """`username_version_handin.tar`: the name the similarity check's archive import reads."""
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', username)}_{version}_handin.tar"


def write_counted(session: Session, assignment: Assignment, out: BinaryIO) -> int:
    """Writes a tar of every student's counted handin, one member each, to `out`; returns how many."""
    rows = session.execute(
        select(User.username, Submission.version, Submission.blob_sha256, Submission.created_at)
        .join(User, User.id == Submission.user_id)
        .where(Submission.assignment_id == assignment.id, Submission.counted, User.role == Role.student)
        .order_by(User.username)
    ).all()
    with tarfile.open(fileobj=out, mode="w|") as archive:
        for username, version, digest, created_at in rows:
            data = session.scalar(select(Blob.data).where(Blob.sha256 == digest))
            member = tarfile.TarInfo(filename(username, version))
            member.size, member.mtime, member.mode = len(data), int(created_at.timestamp()), 0o644
            archive.addfile(member, io.BytesIO(data))
    return len(rows)
