"""The gradebook: every student's counted score on every assignment, and the exports a course needs
(one CSV with every assignment per student, and the shape Canvas's gradebook import takes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Assignment, Role, Submission, User
from core.services.grades import csv_lines, spreadsheet_safe

CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


@dataclass(frozen=True)
class GradebookRow:
    username: str
    display_name: str
    email: str
    scores: list[float | None]  # one per assignment, in the gradebook's order; None: nothing counted

    @property
    def total(self) -> float:
        return round(sum(score or 0.0 for score in self.scores), 4)


@dataclass(frozen=True)
class Gradebook:
    assignments: list[Assignment]  # by due date
    rows: list[GradebookRow]

    @property
    def max_total(self) -> float:
        return sum(assignment.max_score for assignment in self.assignments)


def build(session: Session) -> Gradebook:
    """Every active student on the roster, with the score that counts on each assignment."""
    assignments = list(session.scalars(select(Assignment).order_by(Assignment.due_at, Assignment.id)))
    column = {assignment.id: index for index, assignment in enumerate(assignments)}
    scores: dict[int, list[float | None]] = {}
    for user_id, assignment_id, score in session.execute(
        select(Submission.user_id, Submission.assignment_id, Submission.score).where(Submission.counted)
    ):
        scores.setdefault(user_id, [None] * len(assignments))[column[assignment_id]] = score
    students = session.scalars(
        select(User).where(User.role == Role.student, User.active).order_by(User.username)
    )
    return Gradebook(
        assignments,
        [
            GradebookRow(
                student.username,
                student.display_name,
                student.email,
                scores.get(student.id, [None] * len(assignments)),
            )
            for student in students
        ],
    )


def blank(score: float | None) -> float | str:
    return "" if score is None else score


def gradebook_csv(book: Gradebook) -> Iterator[str]:
    """username, name, email, one column per assignment (its slug), and the total."""
    header = ["username", "display_name", "email", *(a.slug for a in book.assignments), "total"]
    rows = (
        [
            spreadsheet_safe(row.username),
            spreadsheet_safe(row.display_name),
            spreadsheet_safe(row.email),
            *map(blank, row.scores),
            row.total,
        ]
        for row in book.rows
    )
    return csv_lines([header, *rows])


def canvas_csv(book: Gradebook) -> Iterator[str]:
    """The shape of Canvas's gradebook import: its five identity columns (students matched by their
    SIS Login ID, our username), one column per assignment named "Title (slug)", and a second row of
    points possible."""
    header = [*CANVAS_IDENTITY, *(f"{a.title} ({a.slug})" for a in book.assignments)]
    possible = ["Points Possible", "", "", "", "", *(a.max_score for a in book.assignments)]
    rows = (
        [
            spreadsheet_safe(row.display_name or row.username),
            "",
            "",
            spreadsheet_safe(row.username),
            "",
            *map(blank, row.scores),
        ]
        for row in book.rows
    )
    return csv_lines([header, possible, *rows])
