"""The scoreboard: every student on the roster with their counted submission, found, filtered, sorted and
paged by the database (the counted submission is marked on its row by core.services.standings), so that
a page costs what its rows cost, not what the class costs."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from core.models import Assignment, Role, ScoreOverride, Submission, TestScore, User
from core.services import standings

CHUNK = 1000  # rows per batch of a streamed export


class Sort(enum.StrEnum):
    username = "username"
    total = "total"
    submissions = "submissions"
    late = "late"


class Show(enum.StrEnum):
    all = "all"
    none = "none"  # no submission yet
    graded = "graded"  # has a counted score
    late = "late"  # the counted submission is late
    flagged = "flagged"  # a submission carries a flag for staff (e.g. "imports torch")


@dataclass(frozen=True)
class View:
    """What part of the scoreboard to show, and in which order."""

    q: str = ""
    show: Show = Show.all
    sort: Sort = Sort.username
    descending: bool = False
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True)
class ScoreboardRow:
    """One student on the roster and their counted submission, if any."""

    username: str
    display_name: str
    nickname: str  # on the public scoreboard
    submission_id: int | None
    version: int | None
    submissions: int
    late_days: int  # of the counted submission, against the deadlines in force
    grace_days: int  # of those, the grace days cover
    grace_days_left: int  # of the course's, after every assignment
    total: float | None  # as graded
    adjusted_total: float | None  # what counts: overrides, then the late penalty
    overridden: bool
    flags: list[str] = field(default_factory=list)
    tests: dict[str, float] = field(default_factory=dict)

    @property
    def late(self) -> bool:
        return self.late_days > 0


@dataclass(frozen=True)
class Stats:
    """The counted scores of the class: how many, their mean and median, and one bar per point."""

    graded: int
    students: int
    mean: float | None
    median: float | None
    histogram: list[int]


@dataclass(frozen=True)
class Scoreboard:
    assignment: str
    max_score: float
    tests: list[str]
    total: int  # students matching the view, on every page
    offset: int
    limit: int
    rows: list[ScoreboardRow]


COLUMNS = (
    User.id.label("user_id"),
    User.username,
    User.display_name,
    User.nickname,
    Submission.id.label("submission_id"),
    Submission.version,
    Submission.late_days,
    Submission.grace_days,
    Submission.total,
    Submission.score,
    Submission.flags,
)


def roster() -> Select:
    return select(User.id).where(User.role == Role.student, User.active)


def counted_join(assignment: Assignment):
    return and_(Submission.user_id == User.id, Submission.assignment_id == assignment.id, Submission.counted)


def submission_count(assignment: Assignment):
    """The student's number of submissions, worked out for the rows a page shows (unless sorted by it)."""
    any_submission = aliased(Submission)
    return (
        select(func.count())
        .where(any_submission.user_id == User.id, any_submission.assignment_id == assignment.id)
        .correlate(User)
        .scalar_subquery()
    )


def needs_submission(view: View) -> bool:
    """Whether finding the page's students looks at their counted submission."""
    return view.show in (Show.none, Show.graded, Show.late) or view.sort in (Sort.total, Sort.late)


def filtered(assignment: Assignment, view: View, query: Select) -> Select:
    if view.q:
        pattern = f"%{view.q.lower()}%"
        query = query.where(
            or_(func.lower(User.username).like(pattern), func.lower(User.display_name).like(pattern))
        )
    if view.show == Show.none:
        query = query.where(Submission.id.is_(None))
    elif view.show == Show.graded:
        query = query.where(Submission.score.is_not(None))
    elif view.show == Show.late:
        query = query.where(Submission.late_days > 0)
    elif view.show == Show.flagged:
        any_submission = aliased(Submission)
        query = query.where(
            exists().where(
                any_submission.user_id == User.id,
                any_submission.assignment_id == assignment.id,
                any_submission.flags.is_not(None),
            )
        )
    return query


def page(session: Session, assignment: Assignment, view: View = View()) -> Scoreboard:
    """One page of the scoreboard: the students matching `view`, in its order. The page's students are
    found first (joining their counted submission only when the filter or the order needs it), then
    their rows are read: a page costs what its rows cost, whatever the class's size."""
    chosen = filtered(assignment, view, select(User.id).where(User.role == Role.student, User.active))
    if needs_submission(view):
        chosen = chosen.outerjoin(Submission, counted_join(assignment))
    total = session.scalar(select(func.count()).select_from(chosen.subquery())) or 0
    if view.sort == Sort.submissions:  # every student's count: added up at once, not one by one
        counts = submission_counts(assignment)
        chosen = chosen.outerjoin(counts, counts.c.user_id == User.id)
        key = func.coalesce(counts.c.n, 0)
    else:
        key = {
            Sort.username: User.username,
            Sort.total: Submission.score,
            Sort.late: func.coalesce(Submission.late_days, 0),
        }[view.sort]
    order = key.desc().nulls_last() if view.descending else key.asc().nulls_last()
    ids = list(session.scalars(chosen.order_by(order, User.username).offset(view.offset).limit(view.limit)))
    found = {row.user_id: row for row in session.execute(with_counted(assignment).where(User.id.in_(ids)))}
    picked = [found[user_id] for user_id in ids]
    submission_ids = [row.submission_id for row in picked if row.submission_id is not None]
    rows = rows_of(picked, details(session, Submission.id.in_(submission_ids), ids))
    return Scoreboard(
        assignment=assignment.slug,
        max_score=assignment.max_score,
        tests=list(dict.fromkeys(test for row in rows for test in row.tests)),  # in rubric order
        total=total,
        offset=view.offset,
        limit=view.limit,
        rows=rows,
    )


def submission_counts(assignment: Assignment):
    """Every student's number of submissions, added up at once (for a query over the whole class)."""
    return (
        select(Submission.user_id, func.count().label("n"))
        .where(Submission.assignment_id == assignment.id)
        .group_by(Submission.user_id)
        .subquery()
    )


def with_counted(assignment: Assignment, whole_class: bool = False) -> Select:
    """The roster's columns with those of each student's counted submission (None where there is none)
    and their number of submissions (counted row by row for a page, at once for the `whole_class`)."""
    if whole_class:
        counts = submission_counts(assignment)
        return (
            select(*COLUMNS, func.coalesce(counts.c.n, 0).label("submissions"))
            .select_from(User)
            .outerjoin(Submission, counted_join(assignment))
            .outerjoin(counts, counts.c.user_id == User.id)
            .where(User.role == Role.student, User.active)
        )
    return (
        select(*COLUMNS, submission_count(assignment).label("submissions"))
        .select_from(User)
        .outerjoin(Submission, counted_join(assignment))
        .where(User.role == Role.student, User.active)
    )


@dataclass(frozen=True)
class Details:
    """What the rows of some students need beside their columns: per-test points, overrides, grace."""

    per_test: dict[int, dict[str, float]]  # submission id -> {test: points, with staff's overrides}
    overridden: set[int]  # submission ids
    grace_days: int  # the course's
    grace_used: dict[int, int]  # user id -> grace days their counted submissions use


def details(session: Session, submissions_of: ColumnElement[bool], user_ids: list[int] | None) -> Details:
    """The details of the submissions that `submissions_of` picks and of the students `user_ids` (all
    if None), each read in one query."""
    per_test: dict[int, dict[str, float]] = {}
    for submission_id, name, points in session.execute(
        select(TestScore.submission_id, TestScore.name, TestScore.points)
        .join(Submission, Submission.id == TestScore.submission_id)
        .where(submissions_of)
        .order_by(TestScore.submission_id, TestScore.position)
    ):
        per_test.setdefault(submission_id, {})[name] = points
    overridden: set[int] = set()
    for submission_id, test, points in session.execute(
        select(ScoreOverride.submission_id, ScoreOverride.test, ScoreOverride.points)
        .join(Submission, Submission.id == ScoreOverride.submission_id)
        .where(submissions_of)
    ):
        overridden.add(submission_id)
        if test:
            per_test.setdefault(submission_id, {})[test] = points
    grace = standings.course_grace_days(session)
    used = {}
    if grace:
        students = Submission.user_id.in_(user_ids) if user_ids is not None else true()
        used = dict(
            session.execute(
                select(Submission.user_id, func.sum(Submission.grace_days))
                .where(students, Submission.counted)
                .group_by(Submission.user_id)
            ).all()
        )
    return Details(per_test, overridden, grace, used)


def rows_of(found: list, known: Details) -> list[ScoreboardRow]:
    """The scoreboard rows of some students, from their columns and their details."""
    return [
        ScoreboardRow(
            username=row.username,
            display_name=row.display_name,
            nickname=row.nickname,
            submission_id=row.submission_id,
            version=row.version,
            submissions=row.submissions,
            late_days=row.late_days or 0,
            grace_days=row.grace_days or 0,
            grace_days_left=max(0, known.grace_days - (known.grace_used.get(row.user_id) or 0)),
            total=row.total,
            adjusted_total=row.score,
            overridden=row.submission_id in known.overridden,
            flags=[flag for flag in (row.flags or "").split(",") if flag],
            tests=known.per_test.get(row.submission_id, {}),
        )
        for row in found
    ]


def test_names(session: Session, assignment: Assignment) -> list[str]:
    """The test names in rubric order, as the grader reported them for the latest graded submission."""
    latest = (
        select(Submission.id)
        .where(Submission.assignment_id == assignment.id, Submission.counted)
        .order_by(Submission.graded_at.desc().nulls_last(), Submission.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return list(
        session.scalars(
            select(TestScore.name).where(TestScore.submission_id == latest).order_by(TestScore.position)
        )
    )


def stats(session: Session, assignment: Assignment) -> Stats:
    """Count, mean, median and histogram of the counted scores of the students on the roster, added up
    by the database (a page of the scoreboard shows them; they must not cost the whole class)."""
    scored = (
        select(Submission.score.label("score"))
        .join(User, counted_join(assignment))
        .where(User.role == Role.student, User.active, Submission.score.is_not(None))
        .subquery()
    )
    by_score = session.execute(select(scored.c.score, func.count()).group_by(scored.c.score))
    counts = sorted((score, count) for score, count in by_score)
    graded = sum(count for _, count in counts)  # scores take few distinct values: one row each
    top = max(0, int(assignment.max_score))
    histogram = [0] * (top + 1)
    for score, count in counts:
        histogram[min(top, max(0, int(score)))] += count
    return Stats(
        graded=graded,
        students=session.scalar(select(func.count()).select_from(roster().subquery())) or 0,
        mean=round(sum(score * count for score, count in counts) / graded, 2) if graded else None,
        median=median(counts, graded),
        histogram=histogram,
    )


def median(counts: list[tuple[float, int]], total: int) -> float | None:
    """The middle score (the mean of the two middle ones for an even total) of sorted (score, count)."""
    if not total:
        return None
    wanted = [(total - 1) // 2, total // 2]  # positions, from 0
    middle, seen = [], 0
    for score, count in counts:
        middle += [score for position in wanted if seen <= position < seen + count]
        seen += count
    return round(sum(middle) / 2, 2)


def every_row(session: Session, assignment: Assignment) -> Iterator[ScoreboardRow]:
    """Every student of the roster by username, fetched and built a batch at a time (for exports); the
    per-test points of every counted submission are read at once beforehand."""
    known = details(session, and_(Submission.assignment_id == assignment.id, Submission.counted), None)
    query = with_counted(assignment, whole_class=True).order_by(User.username)
    for batch in session.execute(query.execution_options(yield_per=CHUNK)).partitions():
        yield from rows_of(batch, known)
