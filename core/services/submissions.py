"""Submissions: storing an upload, listing, choosing the counted one, writing results."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, false, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from core.models import Assignment, Blob, Regrade, Status, Submission, TestScore, User, utcnow
from core.services import standings

CHUNK = 1000  # ids per IN (...) statement


def check_allowed(session: Session, assignment: Assignment, user: User, now: datetime) -> None:
    """Raises why an upload is refused now (the late deadline in force has passed, no submission is
    left), if it is."""
    refusal = standings.of(session, assignment, user, now).refusal
    if refusal is not None:
        raise refusal


def store_blob(session: Session, data: bytes, digest: str | None = None) -> str:
    """Adds the bytes to the content-addressed blob table unless they are there; returns the sha256."""
    digest = digest or hashlib.sha256(data).hexdigest()
    if session.get(Blob, digest) is None:
        session.add(Blob(sha256=digest, size=len(data), data=data))
        session.flush()
    return digest


def by_idempotency_key(session: Session, assignment: Assignment, user: User, key: str) -> Submission | None:
    return session.scalar(
        select(Submission).where(
            Submission.assignment_id == assignment.id,
            Submission.user_id == user.id,
            Submission.idempotency_key == key,
        )
    )


def create(
    session: Session,
    assignment: Assignment,
    user: User,
    data: bytes,
    now: datetime | None = None,
    attempts: int = 5,
    idempotency_key: str | None = None,
) -> tuple[Submission, bool]:
    """Stores the bytes (content-addressed) and a queued submission in one transaction, and commits.
    Returns it, and whether it is new: an upload retried with the same `idempotency_key` (its client
    never heard the answer) returns the first one, stores nothing and uses no attempt.

    Concurrent uploads by the same student race for the next version number; the unique constraint
    settles it and the loser retries. The row is the outbox: its job is sent after the commit.
    """
    now = now or utcnow()
    digest = hashlib.sha256(data).hexdigest()
    for attempt in range(attempts):
        standings.lock(session, [user.id])
        if idempotency_key and (earlier := by_idempotency_key(session, assignment, user, idempotency_key)):
            session.rollback()
            return earlier, False
        check_allowed(session, assignment, user, now)
        try:
            store_blob(session, data, digest)
            version = (
                session.scalar(
                    select(func.max(Submission.version)).where(
                        Submission.assignment_id == assignment.id, Submission.user_id == user.id
                    )
                )
                or 0
            ) + 1
            submission = Submission(
                assignment_id=assignment.id,
                user_id=user.id,
                version=version,
                blob_sha256=digest,
                size=len(data),
                status=Status.queued,
                created_at=now,
                idempotency_key=idempotency_key,
                max_score=assignment.max_score,
            )
            session.add(submission)
            session.flush()
            standings.refresh(session, [user.id])  # its late days, against the deadlines in force
            session.commit()
            return submission, True
        except IntegrityError:
            session.rollback()
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def get(session: Session, submission_id: int) -> Submission | None:
    return session.scalar(
        select(Submission)
        .where(Submission.id == submission_id)
        .options(selectinload(Submission.scores), selectinload(Submission.overrides))
    )


def visible(session: Session, submission_id: int, user: User) -> Submission | None:
    """The submission if `user` may see it (their own, or any for course staff); None otherwise, as
    for one that does not exist: a student cannot tell another's submission from a missing one."""
    submission = get(session, submission_id)
    if submission is None or (submission.user_id != user.id and not user.is_staff):
        return None
    return submission


def list_for(session: Session, assignment: Assignment, user: User) -> list[Submission]:
    return list(
        session.scalars(
            select(Submission)
            .where(Submission.assignment_id == assignment.id, Submission.user_id == user.id)
            .order_by(Submission.version.desc())
            .options(selectinload(Submission.scores), selectinload(Submission.overrides))
        )
    )


def list_all(
    session: Session,
    assignment: Assignment,
    *,
    offset: int = 0,
    limit: int = 100,
    status: Status | None = None,
    username: str | None = None,
) -> tuple[list[Submission], int]:
    query = select(Submission).where(Submission.assignment_id == assignment.id)
    if status is not None:
        query = query.where(Submission.status == status)
    if username:
        query = query.join(User).where(User.username == username)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Submission.id.desc())
        .offset(offset)
        .limit(limit)
        .options(selectinload(Submission.user))
    )
    return list(rows), total


def status_counts(session: Session, assignment: Assignment) -> dict[str, int]:
    rows = session.execute(
        select(Submission.status, func.count())
        .where(Submission.assignment_id == assignment.id)
        .group_by(Submission.status)
    ).all()
    return {str(status.value): count for status, count in rows}


def grading_pending(session: Session, assignment: Assignment) -> bool:
    """Whether a submission of the assignment is queued or being graded."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    Submission.assignment_id == assignment.id,
                    Submission.status.in_((Status.queued, Status.running)),
                )
            )
        )
    )


def blob_bytes(session: Session, submission: Submission) -> bytes:
    return session.get(Blob, submission.blob_sha256).data


def counted(session: Session, assignment: Assignment, user_id: int | None = None) -> dict[int, int]:
    """user_id -> the id of their counted submission (core.services.standings chose it).

    A submission being regraded keeps counting with its previous score until the new one is stored.
    """
    query = select(Submission.user_id, Submission.id).where(
        Submission.assignment_id == assignment.id, Submission.counted
    )
    if user_id is not None:
        query = query.where(Submission.user_id == user_id)
    return dict(session.execute(query).all())


def claim(session: Session, submission_id: int, lease_s: float) -> Submission | None:
    """Takes a submission for grading, with a lease of `lease_s` seconds that its worker renews while
    it grades. None if there is nothing to do: it is gone, graded or failed already (a redelivered
    job), or another worker holds a lease on it that has not lapsed (a job sent twice)."""
    now = utcnow()
    submission = session.scalar(select(Submission).where(Submission.id == submission_id).with_for_update())
    if submission is None or submission.status in (Status.graded, Status.error):
        session.rollback()
        return None
    lease = submission.lease_expires_at
    if submission.status == Status.running and lease is not None and lease > now:
        session.rollback()
        return None
    submission.status = Status.running
    submission.started_at = now
    submission.lease_expires_at = now + timedelta(seconds=lease_s)
    submission.attempts += 1
    session.commit()
    return submission


def renew_lease(session: Session, submission_id: int, lease_s: float) -> None:
    """The grading worker is alive: its lease on the job runs `lease_s` seconds from now."""
    session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.status == Status.running)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
    )
    session.commit()


def release(session: Session, submission_id: int) -> None:
    """Gives a job back to the queue, as sent, for a retry the worker has sent itself."""
    session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.status == Status.running)
        .values(status=Status.queued, lease_expires_at=None)
    )
    session.commit()


def store_report(session: Session, submission_id: int, report: dict) -> tuple[int, int]:
    """Writes a grading report in one transaction; replaying it leaves the same rows (idempotent).
    Returns the submission's (assignment id, user id).

    The row locks make two deliveries of the same job that finish together write one after the other;
    the student's row is locked first, as every change of a standing does (core.services.standings).
    Plain statements rather than the ORM's unit of work: half the time, on every graded job.
    """
    standings.lock(
        session, [session.scalar(select(Submission.user_id).where(Submission.id == submission_id))]
    )
    session.execute(select(Submission.id).where(Submission.id == submission_id).with_for_update())
    session.execute(delete(TestScore).where(TestScore.submission_id == submission_id))
    session.execute(
        insert(TestScore),
        [score_row(submission_id, position, test) for position, test in enumerate(report["tests"])],
    )
    owner = session.execute(
        update(Submission)
        .where(Submission.id == submission_id)
        .values(
            total=report["total"],
            max_score=report["max"],
            log=report["log"],
            runtime=dict(report["runtime"], sandbox=report.get("sandbox", "")),
            duration_s=report["duration_s"],
            cpu_s=report.get("cpu_s"),
            sandbox_kills=",".join(report.get("kills", [])) or None,
            flags=",".join(report.get("flags", [])) or None,
            status=Status.graded,
            graded_at=utcnow(),
            lease_expires_at=None,
            error="",
        )
        .returning(Submission.assignment_id, Submission.user_id)
    ).one()
    standings.refresh(session, [owner.user_id])
    session.commit()
    return owner.assignment_id, owner.user_id


def score_row(submission_id: int, position: int, test: dict) -> dict:
    """The test_scores row of one test of a report."""
    where = test.get("where") or {}
    return {
        "submission_id": submission_id,
        "position": position,
        "name": test["name"],
        "autolab": test["autolab"],
        "problem": test["problem"],
        "points": test["points"],
        "max_points": test["max_points"],
        "passed": test["passed"],
        "message": test["message"],
        "where_file": where.get("file"),
        "where_line": where.get("line"),
    }


def mark_error(session: Session, submission_id: int, message: str) -> None:
    session.execute(
        update(Submission)
        .where(Submission.id == submission_id)
        .values(status=Status.error, error=message, graded_at=utcnow(), lease_expires_at=None)
    )
    session.commit()


def requeue(session: Session, submission: Submission, sweep: bool = False) -> None:
    """Puts a submission back in the queue, not sent yet, for a regrade or (`sweep`) because its job
    was lost; its old scores stay until replaced."""
    submission.status = Status.queued
    submission.started_at = submission.lease_expires_at = None
    submission.enqueued_at = submission.sent_epoch = None
    submission.sweeps = submission.sweeps + 1 if sweep else 0
    session.commit()


def regrade(session: Session, ids: list[int], actor: str, assignment_id: int | None = None) -> Regrade:
    """Puts the submissions back in the queue as one regrade, in one transaction; their old scores stay
    until replaced. The caller sends their jobs (core.queue.enqueue) once this has committed."""
    batch = Regrade(assignment_id=assignment_id, by=actor, submissions=len(ids))
    session.add(batch)
    session.flush()
    for start in range(0, len(ids), CHUNK):
        session.execute(
            update(Submission)
            .where(Submission.id.in_(ids[start : start + CHUNK]))
            .values(
                status=Status.queued,
                started_at=None,
                lease_expires_at=None,
                enqueued_at=None,
                sent_epoch=None,
                sweeps=0,
                regrade_id=batch.id,
            )
        )
    session.commit()
    return batch


@dataclass(frozen=True)
class RegradeProgress:
    total: int
    pending: int  # queued or being graded
    failed: int  # ended in error

    @property
    def done(self) -> int:
        return self.total - self.pending - self.failed

    @property
    def finished(self) -> bool:
        return self.pending == 0


def regrade_progress(session: Session, batch: Regrade) -> RegradeProgress:
    """How far a regrade is: its own jobs only (uploads graded meanwhile are not counted)."""
    counts = dict(
        session.execute(
            select(Submission.status, func.count())
            .where(Submission.regrade_id == batch.id)
            .group_by(Submission.status)
        ).all()
    )
    return RegradeProgress(
        total=batch.submissions,
        pending=counts.get(Status.queued, 0) + counts.get(Status.running, 0),
        failed=counts.get(Status.error, 0),
    )


def counted_ids(session: Session, assignment: Assignment) -> list[int]:
    """The counted submission of every student of the assignment (what a regrade of all takes)."""
    return sorted(counted(session, assignment).values())


def give_up(session: Session, submission: Submission) -> None:
    """Ends a job the sweeper has sent again too often: an error on our side, which staff see and
    which does not count against the student's submissions."""
    mark_error(
        session,
        submission.id,
        f"grading failed on our side: the job was lost {submission.sweeps + 1} times "
        "(a worker died or the queue lost it); course staff can regrade it",
    )


def mark_sent(session: Session, submission_id: int, epoch: str) -> None:
    """Notes that the grading job was just sent, to the broker's life `epoch`."""
    session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.status == Status.queued)
        .values(enqueued_at=utcnow(), sent_epoch=epoch)
    )
    session.commit()


def due_for_resend(
    session: Session, epoch: str | None, unsent_before: datetime, sent_before: datetime
) -> list[int]:
    """The jobs a lost message or a dead worker left behind: queued ones never sent (created before
    `unsent_before`: the API sends right after the upload), sent to an earlier life of the broker, or
    sent before `sent_before` (a last safety net); running ones whose lease has lapsed. A job sent to
    this life of the broker and not yet taken is waiting there: it is left alone."""
    lost = Submission.sent_epoch != epoch if epoch is not None else false()
    queued = select(Submission.id).where(
        Submission.status == Status.queued,
        (Submission.enqueued_at.is_(None) & (Submission.created_at < unsent_before))
        | (Submission.enqueued_at.is_not(None) & (lost | (Submission.enqueued_at < sent_before))),
    )
    running = select(Submission.id).where(
        Submission.status == Status.running,
        Submission.lease_expires_at.is_(None) | (Submission.lease_expires_at < utcnow()),
    )
    return list(session.scalars(queued.union(running)))
