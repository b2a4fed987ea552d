"""The scoreboard: every student on the roster with their counted submission."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Assignment, Submission, TestScore
from core.services import users
from core.services.submissions import counted_submissions


@dataclass(frozen=True)
class ScoreboardRow:
    """One student on the roster and their counted submission, if any."""

    username: str
    display_name: str
    submission_id: int | None
    version: int | None
    submissions: int
    late: bool
    total: float | None
    adjusted_total: float | None
    tests: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Scoreboard:
    assignment: str
    max_score: float
    tests: list[str]
    rows: list[ScoreboardRow]


def test_names(session: Session, assignment: Assignment, submission_ids: list[int]) -> list[str]:
    """The test names in rubric order, as the grader reported them."""
    if not submission_ids:
        return []
    rows = session.execute(
        select(TestScore.name, func.min(TestScore.position))
        .where(TestScore.submission_id.in_(submission_ids))
        .group_by(TestScore.name)
    ).all()
    return [name for name, _ in sorted(rows, key=lambda row: row[1])]


def build(session: Session, assignment: Assignment) -> Scoreboard:
    counted = counted_submissions(session, assignment)
    counts = dict(
        session.execute(
            select(Submission.user_id, func.count())
            .where(Submission.assignment_id == assignment.id)
            .group_by(Submission.user_id)
        ).all()
    )
    ids = [entry.submission_id for entry in counted.values()]
    per_test: dict[int, dict[str, float]] = {}
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        for submission_id, name, points in session.execute(
            select(TestScore.submission_id, TestScore.name, TestScore.points).where(
                TestScore.submission_id.in_(chunk)
            )
        ):
            per_test.setdefault(submission_id, {})[name] = points
    rows = []
    for student in users.students(session):
        entry = counted.get(student.id)
        rows.append(
            ScoreboardRow(
                username=student.username,
                display_name=student.display_name,
                submission_id=entry.submission_id if entry else None,
                version=entry.version if entry else None,
                submissions=counts.get(student.id, 0),
                late=bool(entry and entry.late_days > 0),
                total=entry.total if entry else None,
                adjusted_total=entry.adjusted if entry else None,
                tests=per_test.get(entry.submission_id, {}) if entry else {},
            )
        )
    return Scoreboard(
        assignment=assignment.slug,
        max_score=assignment.max_score,
        tests=test_names(session, assignment, ids[:50]),
        rows=rows,
    )
