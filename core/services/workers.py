"""The grading workers that are up: whether each can confine handins, and their signs of life."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.models import Worker, utcnow


def register(
    session: Session, name: str, pid: int, grading: bool, confinement: str, weak: bool, problem: str
) -> int:
    worker = Worker(name=name, pid=pid, grading=grading, confinement=confinement, weak=weak, problem=problem)
    session.add(worker)
    session.commit()
    return worker.id


def heartbeat(session: Session, worker_id: int) -> None:
    session.execute(update(Worker).where(Worker.id == worker_id).values(heartbeat_at=utcnow()))
    session.commit()


def stopped(session: Session, worker_id: int) -> None:
    session.execute(update(Worker).where(Worker.id == worker_id).values(stopped_at=utcnow()))
    session.commit()


def live(session: Session, gone_after_s: int) -> list[Worker]:
    """Workers that gave a sign of life in the last `gone_after_s` seconds and have not stopped."""
    since = utcnow() - timedelta(seconds=gone_after_s)
    return list(
        session.scalars(
            select(Worker)
            .where(Worker.heartbeat_at >= since, Worker.stopped_at.is_(None))
            .order_by(Worker.id)
        )
    )


@dataclass(frozen=True)
class GradingState:
    """Can the service grade now, and how well confined: what health and the staff pages show."""

    grading: int  # live workers that take grading jobs
    weak: list[str]  # those of them without full confinement, and how they run
    refusing: list[str]  # live workers that take no grading job, and why

    @property
    def problem(self) -> str | None:
        if self.grading:
            return None
        if self.refusing:
            return "no worker can grade: " + "; ".join(self.refusing)
        return "no worker is running: uploads wait in the queue until one starts"


def grading_state(session: Session, gone_after_s: int) -> GradingState:
    workers = live(session, gone_after_s)
    return GradingState(
        grading=sum(worker.grading for worker in workers),
        weak=[f"{worker.name}: {worker.confinement}" for worker in workers if worker.grading and worker.weak],
        refusing=[
            f"{worker.name}: {worker.problem}" for worker in workers if not worker.grading and worker.problem
        ],
    )
