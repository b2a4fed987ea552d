"""Staff's word on a grade: points set in place of the grader's (one test, or the total), with a
reason, and a comment the student reads. Each change is audited; a regrade keeps them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.errors import InvalidSettings
from core.models import ScoreOverride, Submission
from core.services import audit, standings

TOTAL = ""  # the override's `test` when it sets the whole total


def points_text(points: float | None) -> str:
    return "none" if points is None else f"{points:g}"


def limits(submission: Submission, test: str) -> float:
    """The most points the total, or one test, can be given; InvalidSettings for an unknown test."""
    if test == TOTAL:
        return submission.max_score
    for row in submission.scores:
        if row.name == test:
            return row.max_points
    raise InvalidSettings(f"submission {submission.version} has no test {test!r}")


def graded_points(submission: Submission, test: str) -> float | None:
    if test == TOTAL:
        return submission.total
    return next((row.points for row in submission.scores if row.name == test), None)


def set_override(
    session: Session, submission: Submission, test: str, points: float, reason: str, actor: str
) -> ScoreOverride:
    """Sets the points of one test (or the total) of a graded submission; a reason is required."""
    standings.lock(session, [submission.user_id])
    if submission.total is None:
        raise InvalidSettings("only a graded submission can be overridden")
    if not reason.strip():
        raise InvalidSettings("an override needs a reason")
    top = limits(submission, test)
    if not 0 <= points <= top:
        raise InvalidSettings(f"points must be between 0 and {top:g}")
    override = submission.override(test)
    old = override.points if override else graded_points(submission, test)
    if override is None:
        override = ScoreOverride(
            submission_id=submission.id, test=test, points=points, reason=reason, by=actor
        )
        submission.overrides.append(override)
    else:
        override.points, override.reason, override.by = points, reason, actor
    audit_change(session, submission, test, points_text(old), points_text(points), reason, actor)
    session.flush()
    standings.refresh(session, [submission.user_id])
    session.commit()
    return override


def clear_override(session: Session, submission: Submission, test: str, actor: str, reason: str = "") -> bool:
    """Gives the grader's points back to one test (or the total); False if there was no override."""
    standings.lock(session, [submission.user_id])
    override = submission.override(test)
    if override is None:
        return False
    graded = graded_points(submission, test)
    audit_change(session, submission, test, points_text(override.points), points_text(graded), reason, actor)
    submission.overrides.remove(override)
    session.flush()
    standings.refresh(session, [submission.user_id])
    session.commit()
    return True


def audit_change(
    session: Session, submission: Submission, test: str, old: str, new: str, reason: str, actor: str
) -> None:
    audit.record(
        session,
        actor,
        "override",
        assignment_id=submission.assignment_id,
        submission_id=submission.id,
        student_id=submission.user_id,
        what=test or "total",
        old=old,
        new=new,
        reason=reason,
    )


def set_comment(session: Session, submission: Submission, comment: str, actor: str) -> None:
    """Sets (or, empty, removes) the comment the student reads with the submission's result."""
    if comment == submission.comment:
        return
    audit.record(
        session,
        actor,
        "comment",
        assignment_id=submission.assignment_id,
        submission_id=submission.id,
        student_id=submission.user_id,
        what="comment",
        old=submission.comment,
        new=comment,
    )
    submission.comment = comment
    session.commit()
