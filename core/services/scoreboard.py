"""The scoreboard: every student on the roster with their counted submission."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Assignment, ScoreOverride, Submission, TestScore
from core.services import standings, users

CHUNK = 500  # ids per IN (...) query


@dataclass(frozen=True)
class ScoreboardRow:
    """One student on the roster and their counted submission, if any."""

    username: str
    display_name: str
    submission_id: int | None
    version: int | None
    submissions: int
    late_days: int  # of the counted submission, against the deadlines in force
    grace_days: int  # of those, the grace days cover
    grace_days_left: int  # of the course's, after every assignment
    total: float | None  # as graded
    adjusted_total: float | None  # what counts: overrides, then the late penalty
    overridden: bool
    tests: dict[str, float] = field(default_factory=dict)

    @property
    def late(self) -> bool:
        return self.late_days > 0


@dataclass(frozen=True)
class Scoreboard:
    assignment: str
    max_score: float
    tests: list[str]
    rows: list[ScoreboardRow]


def test_names(session: Session, submission_ids: list[int]) -> list[str]:
    """The test names in rubric order, as the grader reported them."""
    if not submission_ids:
        return []
    rows = session.execute(
        select(TestScore.name, func.min(TestScore.position))
        .where(TestScore.submission_id.in_(submission_ids))
        .group_by(TestScore.name)
    ).all()
    return [name for name, _ in sorted(rows, key=lambda row: row[1])]


def points_by_test(session: Session, ids: list[int]) -> tuple[dict[int, dict[str, float]], set[int]]:
    """submission id -> {test: points, with staff's overrides}, and the submissions overridden."""
    per_test: dict[int, dict[str, float]] = {}
    overridden: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for submission_id, name, points in session.execute(
            select(TestScore.submission_id, TestScore.name, TestScore.points).where(
                TestScore.submission_id.in_(chunk)
            )
        ):
            per_test.setdefault(submission_id, {})[name] = points
        for submission_id, test, points in session.execute(
            select(ScoreOverride.submission_id, ScoreOverride.test, ScoreOverride.points).where(
                ScoreOverride.submission_id.in_(chunk)
            )
        ):
            overridden.add(submission_id)
            if test:
                per_test.setdefault(submission_id, {})[test] = points
    return per_test, overridden


def build(session: Session, assignment: Assignment) -> Scoreboard:
    counted = {
        row.user_id: row
        for row in session.execute(
            select(
                Submission.user_id,
                Submission.id,
                Submission.version,
                Submission.total,
                Submission.score,
                Submission.late_days,
                Submission.grace_days,
            ).where(Submission.assignment_id == assignment.id, Submission.counted)
        )
    }
    counts = dict(
        session.execute(
            select(Submission.user_id, func.count())
            .where(Submission.assignment_id == assignment.id)
            .group_by(Submission.user_id)
        ).all()
    )
    grace_used = dict(
        session.execute(
            select(Submission.user_id, func.sum(Submission.grace_days))
            .where(Submission.counted)
            .group_by(Submission.user_id)
        ).all()
    )
    grace = standings.course_grace_days(session)
    ids = sorted(entry.id for entry in counted.values())
    per_test, overridden = points_by_test(session, ids)
    rows = []
    for student in users.students(session):
        entry = counted.get(student.id)
        rows.append(
            ScoreboardRow(
                username=student.username,
                display_name=student.display_name,
                submission_id=entry.id if entry else None,
                version=entry.version if entry else None,
                submissions=counts.get(student.id, 0),
                late_days=entry.late_days if entry else 0,
                grace_days=entry.grace_days if entry else 0,
                grace_days_left=max(0, grace - (grace_used.get(student.id) or 0)),
                total=entry.total if entry else None,
                adjusted_total=entry.score if entry else None,
                overridden=bool(entry and entry.id in overridden),
                tests=per_test.get(entry.id, {}) if entry else {},
            )
        )
    return Scoreboard(
        assignment=assignment.slug,
        max_score=assignment.max_score,
        tests=test_names(session, ids[-50:]),
        rows=rows,
    )
