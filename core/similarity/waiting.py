"""Which students' similarity updates wait in the broker: noted before a send, dropped when a worker
takes the update up. After a grading one row is read and written, whatever the backlog. A note older
than REQUEUE_AFTER_S is taken as lost (a purged queue, a broker restart): the next grading sends
again, and the sweeper, which reads the queue itself, sends what it finds missing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import delete, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.config import get_settings
from core.models import SimilarityUpdateWaiting, utcnow

Student = tuple[int, int]  # (assignment id, user id)
INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def note(session: Session, students: Iterable[Student]) -> list[Student]:
    """Notes that the students' updates are about to be sent; those not noted already, or noted so
    long ago that their update is taken as lost (the others' update waits)."""
    insert = INSERT[session.get_bind().dialect.name]
    sent_at = utcnow()
    lost_before = sent_at - timedelta(seconds=get_settings().requeue_after_s)
    noted = [
        student
        for student in sorted(set(students))
        if session.execute(
            insert(SimilarityUpdateWaiting)
            .values(assignment_id=student[0], user_id=student[1], sent_at=sent_at)
            .on_conflict_do_update(
                index_elements=["assignment_id", "user_id"],
                set_={"sent_at": sent_at},
                where=SimilarityUpdateWaiting.sent_at < lost_before,
            )
            .returning(SimilarityUpdateWaiting.user_id)
        ).first()
    ]
    session.commit()
    return noted


def forget(session: Session, students: Iterable[Student]) -> None:
    """The students' updates wait no more: taken up by a worker, or their send failed."""
    students = list(students)
    if students:
        session.execute(
            delete(SimilarityUpdateWaiting).where(
                tuple_(SimilarityUpdateWaiting.assignment_id, SimilarityUpdateWaiting.user_id).in_(students)
            )
        )
    session.commit()
