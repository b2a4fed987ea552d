"""Where each student stands: how late each submission is against the deadlines in force (with the
student's extension), the grace days that cover it, its score after overrides and the late penalty,
and the submission that counts.

The results live on the submissions, so that the scoreboard can sort and page in SQL, and `refresh`
works them out again in the transaction that changes any rule they follow: a grade, an override, an
extension, the deadlines or the penalty, the course's grace days. Nothing is frozen at upload time.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, true, update
from sqlalchemy.orm import Session

from core.errors import Closed, LimitReached, Refused
from core.models import Assignment, Course, Extension, ScoreOverride, Status, Submission, TestScore, User
from core.timefmt import local_text

DAY_S = 86400.0


@dataclass(frozen=True)
class Deadlines:
    """An assignment's deadlines for one student: the course's, moved by the student's extension."""

    due_at: datetime
    late_deadline_at: datetime
    extension_days: int = 0


def deadlines(assignment: Assignment, extension_days: int = 0) -> Deadlines:
    shift = timedelta(days=extension_days)
    return Deadlines(assignment.due_at + shift, assignment.late_deadline_at + shift, extension_days)


def extension_days(session: Session, assignment_id: int, user_id: int) -> int:
    return (
        session.scalar(
            select(Extension.days).where(
                Extension.assignment_id == assignment_id, Extension.user_id == user_id
            )
        )
        or 0
    )


def deadlines_for(session: Session, assignment: Assignment, user_id: int) -> Deadlines:
    return deadlines(assignment, extension_days(session, assignment.id, user_id))


def late_days(due_at: datetime, at: datetime) -> int:
    """Whole days (rounded up) past the due date; 0 if on time."""
    seconds = (at - due_at).total_seconds()
    return 0 if seconds <= 0 else math.ceil(seconds / DAY_S)


def penalty_fraction(assignment: Assignment, days: int) -> float:
    """The fraction of the score that `days` penalised late days take."""
    fraction = assignment.late_penalty_per_day * days
    if assignment.late_penalty_cap is not None:
        fraction = min(fraction, assignment.late_penalty_cap)
    return max(0.0, min(1.0, fraction))


def score(
    assignment: Assignment,
    total: float | None,
    penalty_days: int,
    test_changes: float = 0.0,
    total_override: float | None = None,
) -> float | None:
    """What a submission is worth: the total staff set, if any (the final word, no penalty taken);
    else the grader's total with the test overrides' changes, less the penalty of its penalised days."""
    if total_override is not None:
        return total_override
    if total is None:
        return None
    return round((total + test_changes) * (1 - penalty_fraction(assignment, penalty_days)), 4)


def course_grace_days(session: Session) -> int:
    return session.scalar(select(Course.grace_days)) or 0


def course_time_zone(session: Session) -> str:
    return session.scalar(select(Course.time_zone)) or "UTC"


@dataclass
class Row:
    id: int
    assignment_id: int
    user_id: int
    version: int
    created_at: datetime
    total: float | None
    late_days: int
    grace_days: int
    score: float | None
    counted: bool

    def state(self) -> tuple:
        return (self.late_days, self.grace_days, self.score, self.counted)


def lock(session: Session, user_ids: Iterable[int] | None = None) -> None:
    """Locks the students' rows (everyone's if None) until the transaction ends. Every change of a
    standing takes this lock before any other (a grade, an upload, an override, an extension), so that
    two changes of one student run one after the other, the second seeing the first's result, and no
    two of them wait for each other."""
    ids = None if user_ids is None else sorted(set(user_ids))
    if ids == []:
        return
    of_students = User.id.in_(ids) if ids is not None else true()
    session.execute(select(User.id).where(of_students).order_by(User.id).with_for_update())


def refresh(session: Session, user_ids: Iterable[int] | None = None) -> None:
    """Works out the standing of every submission of these students (of everyone if None), over every
    assignment (grace days carry from one assignment to the next, in order of due date). The caller
    commits."""
    ids = None if user_ids is None else sorted(set(user_ids))
    if ids == []:
        return
    lock(session, ids)
    in_scope = Submission.user_id.in_(ids) if ids is not None else true()
    grace = course_grace_days(session)
    rules = {assignment.id: assignment for assignment in session.scalars(select(Assignment))}
    extensions = {
        (row.assignment_id, row.user_id): row.days
        for row in session.execute(
            select(Extension.assignment_id, Extension.user_id, Extension.days).where(
                Extension.user_id.in_(ids) if ids is not None else true()
            )
        )
    }
    rows: dict[tuple[int, int], list[Row]] = defaultdict(list)
    for values in session.execute(
        select(
            Submission.id,
            Submission.assignment_id,
            Submission.user_id,
            Submission.version,
            Submission.created_at,
            Submission.total,
            Submission.late_days,
            Submission.grace_days,
            Submission.score,
            Submission.counted,
        ).where(in_scope)
    ):
        rows[(values.user_id, values.assignment_id)].append(Row(*values))
    test_changes: dict[int, float] = defaultdict(float)
    total_overrides: dict[int, float] = {}
    for submission_id, test, points, graded in session.execute(
        select(ScoreOverride.submission_id, ScoreOverride.test, ScoreOverride.points, TestScore.points)
        .join(Submission, Submission.id == ScoreOverride.submission_id)
        .outerjoin(
            TestScore,
            and_(
                TestScore.submission_id == ScoreOverride.submission_id, TestScore.name == ScoreOverride.test
            ),
        )
        .where(in_scope)
    ):
        if test:
            test_changes[submission_id] += points - (graded or 0.0)
        else:
            total_overrides[submission_id] = points

    order = sorted(rules.values(), key=lambda assignment: (assignment.due_at, assignment.id))
    changed = []
    for user_id in sorted({user for user, _ in rows}):
        left = grace
        for assignment in order:
            submitted = rows.get((user_id, assignment.id))
            if not submitted:
                continue
            before = {row.id: row.state() for row in submitted}
            due = deadlines(assignment, extensions.get((assignment.id, user_id), 0)).due_at
            for row in submitted:
                row.late_days = late_days(due, row.created_at)
                row.grace_days = min(row.late_days, left)
                row.score = score(
                    assignment,
                    row.total,
                    row.late_days - row.grace_days,
                    test_changes.get(row.id, 0.0),
                    total_overrides.get(row.id),
                )
                row.counted = False
            chosen = counted_of(assignment, submitted)
            if chosen is not None:
                chosen.counted = True
                left -= chosen.grace_days
            changed += [row for row in submitted if row.state() != before[row.id]]
    if changed:
        session.execute(
            update(Submission),
            [
                {"id": row.id, "late_days": row.late_days, "grace_days": row.grace_days, "score": row.score}
                | {"counted": row.counted}
                for row in changed
            ],
        )
        for instance in list(session.identity_map.values()):
            if isinstance(instance, Submission):
                session.expire(instance, ["late_days", "grace_days", "score", "counted"])


def counted_of(assignment: Assignment, submitted: list[Row]) -> Row | None:
    """The submission that counts: the latest with a score, or the best score (the latest of equals)."""
    scored = [row for row in submitted if row.score is not None]
    if not scored:
        return None
    if assignment.scoring == "best":
        return max(scored, key=lambda row: (row.score, row.version))
    return max(scored, key=lambda row: row.version)


def students_of(session: Session, assignment: Assignment) -> list[int]:
    """The students with a submission of the assignment: those a change of its rules can move."""
    return list(
        session.scalars(
            select(Submission.user_id).where(Submission.assignment_id == assignment.id).distinct()
        )
    )


@dataclass(frozen=True)
class Standing:
    """One student on one assignment, now: deadlines, submissions used, grace days, and whether an
    upload would be taken (`refusal` says why not)."""

    deadlines: Deadlines
    used: int
    limit: int | None
    grace_days: int  # the course gives each student
    grace_used: int  # by the counted submissions of every assignment
    refusal: Refused | None

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    @property
    def grace_left(self) -> int:
        return max(0, self.grace_days - self.grace_used)


def used(session: Session, assignment_id: int, user_id: int) -> int:
    """The submissions that count against the student's limit: all but those that failed on our side."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Submission)
            .where(
                Submission.assignment_id == assignment_id,
                Submission.user_id == user_id,
                Submission.status != Status.error,
            )
        )
        or 0
    )


def grace_used(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.sum(Submission.grace_days)).where(Submission.user_id == user_id, Submission.counted)
        )
        or 0
    )


def of(session: Session, assignment: Assignment, user: User, now: datetime) -> Standing:
    """The student's standing on the assignment at `now`."""
    rules = deadlines_for(session, assignment, user.id)
    count = used(session, assignment.id, user.id)
    refusal: Refused | None = None
    if now > rules.late_deadline_at:
        refusal = Closed(
            f"the late deadline of {assignment.title} "
            f"({local_text(rules.late_deadline_at, course_time_zone(session))}) "
            "has passed: no more submissions"
        )
    elif assignment.max_submissions is not None and count >= assignment.max_submissions:
        refusal = LimitReached(
            f"you have used all {assignment.max_submissions} submissions of {assignment.title}"
        )
    return Standing(
        deadlines=rules,
        used=count,
        limit=assignment.max_submissions,
        grace_days=course_grace_days(session),
        grace_used=grace_used(session, user.id),
        refusal=refusal,
    )
