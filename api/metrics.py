"""Prometheus metrics at /metrics.

Grading numbers are read from the database at scrape time, so they are right for
the whole cluster however many API and worker processes there are; upload
rejections are counted in the API process that refused them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import case, func, select

from core.db import session_factory
from core.models import Status, Submission

REGISTRY = CollectorRegistry()
UPLOADS_ACCEPTED = Counter("hw1_uploads_accepted", "Uploads stored and queued", registry=REGISTRY)
UPLOADS_REJECTED = Counter(
    "hw1_uploads_rejected", "Uploads refused, by reason", ["reason"], registry=REGISTRY
)
GRADING_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300)


class DatabaseCollector:
    """Queue depth, jobs by outcome, grading time and sandbox kills, from the submissions table."""

    def collect(self):
        with session_factory()() as session:
            by_status = dict(
                session.execute(select(Submission.status, func.count()).group_by(Submission.status)).all()
            )
            durations = session.execute(
                select(
                    *(
                        func.sum(case((Submission.duration_s <= bound, 1), else_=0))
                        for bound in GRADING_BUCKETS
                    ),
                    func.count(Submission.duration_s),
                    func.sum(Submission.duration_s),
                )
            ).one()
            kills = session.scalars(
                select(Submission.sandbox_kills).where(Submission.sandbox_kills.is_not(None))
            )
            kill_counts: dict[str, int] = {}
            for row in kills:
                for reason in row.split(","):
                    kill_counts[reason] = kill_counts.get(reason, 0) + 1

        depth = GaugeMetricFamily("hw1_queue_depth", "Submissions waiting or being graded", labels=["status"])
        for status in (Status.queued, Status.running):
            depth.add_metric([status.value], by_status.get(status, 0))
        yield depth

        jobs = CounterMetricFamily("hw1_jobs", "Grading jobs finished, by outcome", labels=["outcome"])
        for status in (Status.graded, Status.error):
            jobs.add_metric([status.value], by_status.get(status, 0))
        yield jobs

        *cumulative, count, total = durations
        buckets = [
            (str(bound), int(value or 0)) for bound, value in zip(GRADING_BUCKETS, cumulative, strict=True)
        ]
        histogram = HistogramMetricFamily("hw1_grading_seconds", "Wall time to grade one handin")
        histogram.add_metric([], buckets + [("+Inf", int(count or 0))], sum_value=float(total or 0.0))
        yield histogram

        killed = CounterMetricFamily("hw1_sandbox_kills", "Sandboxes killed, by reason", labels=["reason"])
        for reason, number in sorted(kill_counts.items()):
            killed.add_metric([reason], number)
        yield killed


REGISTRY.register(DatabaseCollector())


def render() -> bytes:
    return generate_latest(REGISTRY)
