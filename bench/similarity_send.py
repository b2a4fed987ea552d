"""Similarity send bench: what deciding whether to send a student's similarity update costs, with N
updates already waiting in the similarity queue (Redis), after a grading and in the sweeper.

After each grading the worker sends the student's update unless one waits already. It used to read
the whole similarity queue to know; it now reads and writes the student's one row in the database
(core/similarity/waiting.py). The sweeper still reads the queue, once per sweep.

    .venv/bin/python bench/similarity_send.py [--waiting 0 1000 5000]

A database is made for the run and dropped at the end, on the PostgreSQL the tests use
(TEST_DATABASE_ADMIN_URL, 127.0.0.1 by default); the queue is one of its own on the Redis of
BROKER_URL (redis://127.0.0.1:6379/0 by default), deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "tests"))

from support.database import create_database, drop_database  # noqa: E402

REPEAT = 20


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--waiting", type=int, nargs="+", default=[0, 1000, 5000])
    parser.add_argument("--broker-url", default=os.environ.get("BROKER_URL", "redis://127.0.0.1:6379/0"))
    return parser.parse_args()


def median_ms(calls: list[Callable[[], object]]) -> float:
    times = []
    for call in calls:
        started = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def students(count: int) -> tuple[int, list[int]]:
    """An assignment and `count` students; their ids."""
    from sqlalchemy import insert, select

    from core.db import session_factory
    from core.models import Assignment, Role, User

    with session_factory()() as session:
        due = datetime.now(UTC) + timedelta(days=1)
        assignment = Assignment(slug="hw1-bonus", title="HW1 Bonus", due_at=due, late_deadline_at=due)
        session.add(assignment)
        session.execute(
            insert(User),
            [{"username": f"s{n:05d}", "nickname": f"n{n:05d}", "role": Role.student} for n in range(count)],
        )
        session.commit()
        return assignment.id, list(session.scalars(select(User.id).order_by(User.id)))


def main() -> None:
    args = parse_args()
    name = f"hw1grader_send_{os.getpid()}"
    url = create_database(name)
    os.environ.update(
        {"DATABASE_URL": url, "SECRET_KEY": "bench", "BROKER_URL": args.broker_url, "GRADING_QUEUE": name}
    )
    try:
        subprocess.run(
            [str(Path(sys.executable).parent / "alembic"), "upgrade", "head"], cwd=PROJECT, check=True
        )
        run(args)
    finally:
        from core.db import get_engine
        from core.queue import _connection, similarity_queue

        with _connection() as connection:
            connection.default_channel.queue_delete(similarity_queue())
        get_engine().dispose()
        drop_database(name)


def run(args: argparse.Namespace) -> None:
    from core.db import session_factory
    from core.queue import _connection, enqueue_similarity, enqueue_similarity_jobs, similarity_queue
    from core.similarity import waiting

    most = max(args.waiting)
    assignment, ids = students(most + REPEAT * len(args.waiting))
    backlog, fresh = ids[:most], iter(ids[most:])

    def grading(user: int) -> Callable[[], object]:  # what the worker does after grading `user`
        return lambda: enqueue_similarity(assignment, user)

    def sweeper(user: int) -> Callable[[], object]:  # what the sweeper does for a stale `user`
        return lambda: enqueue_similarity_jobs([(assignment, user)])

    print(f"{'waiting':>8} {'grading, one waits':>19} {'grading, none waits':>20} {'sweeper':>10}")
    for size in args.waiting:
        with _connection() as connection:
            connection.default_channel.queue_purge(similarity_queue())
        with session_factory()() as session:
            waiting.forget(session, [(assignment, user) for user in backlog])
        queued = backlog[:size] or [next(fresh)]  # with none waiting: one student graded again and again
        assert enqueue_similarity_jobs([(assignment, user) for user in queued]) == len(queued)
        one_waits = median_ms([grading(queued[i % len(queued)]) for i in range(REPEAT)])
        none_waits = median_ms([grading(next(fresh)) for _ in range(REPEAT - 1)])
        read = median_ms([sweeper(queued[i % len(queued)]) for i in range(REPEAT)])
        print(
            f"{size:>8} {one_waits:>16.2f} ms {none_waits:>17.2f} ms {read:>7.2f} ms"
            f"   (reading the queue, as a grading did before: {read / one_waits:.1f}x)"
        )


if __name__ == "__main__":
    main()
