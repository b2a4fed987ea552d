"""Similarity bench: index N submissions (default 500) and time all pairs, then one more.

Each synthetic student hands in the handout's mytorch with bonus parts of their own and statements
of their own inserted here and there, so that every handin carries code of its own beside the
handout's, as real handins do. A few pairs are copies of each other with renamed variables, and a
group of students hand in one leaked solution (the reference's bonus parts, each with their own
insertions): a cluster. All of it goes through the service's own index (the database tables and
the incremental update the Celery task runs), on SQLite by default or on the database given with
--database-url.

    .venv/bin/python bench/similarity.py [--students 500] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "tests"))  # the tests' handin builder

from support.handins import tar_bytes  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--copies", type=int, default=10, help="students who hand in a disguised copy")
    parser.add_argument("--leaked", type=int, default=20, help="students who hand in one leaked solution")
    parser.add_argument("--new", type=int, default=5, help="new submissions timed one at a time")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--seed", type=int, default=11785)
    return parser.parse_args()


OPERATORS = ["+", "-", "*", "/", "%", "**", "//", "&", "|", "^", "<", ">", "==", "!=", "and", "or"]
OPERANDS = ("v", "1", "'s'", "np.sum(v)", "v[0]", "v.data", "(v or 1)", "-v", "[v]", "v.shape[0]")


def own_statement(rng: random.Random, indent: str) -> str:
    terms = " ".join(f"{rng.choice(OPERATORS)} {rng.choice(OPERANDS)}" for _ in range(rng.randrange(3, 9)))
    return f"{indent}v = {rng.choice(OPERANDS)} {terms}"


BONUS = ("mytorch/optim/adam.py", "mytorch/nn/batchnorm.py", "mytorch/nn/functional.py")


def own_bonus(handout: dict[str, bytes], rng: random.Random) -> dict[str, bytes]:
    """The handout's files with bonus parts of this student's own written into them."""
    out = dict(handout)
    for path in BONUS:
        body = "\n".join(own_statement(rng, "    ") for _ in range(15))
        out[path] = handout[path] + f"\n\ndef own_part(v):\n{body}\n    return v\n".encode()
    return out


def student_code(files: dict[str, bytes], rng: random.Random, edit_rate: float = 0.08) -> dict[str, bytes]:
    """The files with statements of this student's own inserted here and there."""
    out = {}
    for path, data in files.items():
        mine = []
        for line in data.decode().splitlines():
            stripped = line.lstrip()
            opener = stripped.startswith(("@", "else", "elif", "except", "finally", ")", "]", "}"))
            if stripped and not opener and rng.random() < edit_rate:
                mine.append(own_statement(rng, line[: len(line) - len(stripped)]))
            mine.append(line)
        out[path] = ("\n".join(mine) + "\n").encode()
    return out


def disguise(files: dict[str, bytes], rng: random.Random) -> dict[str, bytes]:
    """A copy with local names changed (what the normalised tokens see through)."""
    renames = {"grad": "g", "state": "moments", "mean": "mu", "centered": "diff", "norm": "xhat"}
    out = {}
    for path, data in files.items():
        text = data.decode()
        for old, new in renames.items():
            if rng.random() < 0.8:
                text = text.replace(f" {old} ", f" {new}_{rng.randrange(9)} ")
        out[path] = text.encode()
    return out


def main() -> None:
    args = parse_args()
    rng = random.Random(args.seed)
    scratch = Path(tempfile.mkdtemp(prefix="similarity-bench-"))
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{scratch / 'bench.db'}"
    os.environ.setdefault("BROKER_URL", f"sqla+sqlite:///{scratch / 'broker.db'}")

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import func, select

    from core.db import session_factory
    from core.models import Assignment, Role, SimilarityFingerprint, Status, Submission
    from core.services import users
    from core.services.submissions import store_blob
    from core.similarity import index as similarity
    from core.similarity.clusters import clusters
    from core.similarity.engine import fingerprint, read_tree
    from grader.paths import HANDOUT_DIR
    from grader.reference import build_reference_mytorch

    command.upgrade(Config(str(PROJECT / "alembic.ini")), "head")
    handout = read_tree(HANDOUT_DIR / "mytorch")
    reference = read_tree(build_reference_mytorch(HANDOUT_DIR, scratch))
    codes = [student_code(own_bonus(handout, rng), rng) for _ in range(args.students + args.new)]
    leaked = range(args.students - args.leaked, args.students)
    for index in leaked:
        codes[index] = student_code(reference, rng)
    copies = rng.sample(range(0, args.students - args.leaked - 1, 2), args.copies)  # pairs (2i, 2i + 1)
    for index in copies:
        codes[index + 1] = disguise(codes[index], rng)
    handins = [tar_bytes(code) for code in codes]
    lines = sum(len(data.splitlines()) for data in codes[0].values())
    print(f"{args.students} students + {args.new} new, {lines} lines of Python each")
    print(f"database: {os.environ['DATABASE_URL']}")

    started = time.perf_counter()
    for code in codes[:50]:
        fingerprint(code, similarity.starter())
    per_fingerprint = (time.perf_counter() - started) / 50

    Session = session_factory()
    with Session() as session:
        now = datetime.now(UTC)
        assignment = Assignment(
            slug="bench",
            title="bench",
            due_at=now + timedelta(days=1),
            late_deadline_at=now + timedelta(days=2),
        )
        session.add(assignment)
        session.commit()
        ids = []
        for number, data in enumerate(handins):
            user, _ = users.upsert_user(session, f"s{number:04d}", role=Role.student)
            session.add(
                Submission(
                    assignment_id=assignment.id,
                    user_id=user.id,
                    version=1,
                    blob_sha256=store_blob(session, data),
                    size=len(data),
                    status=Status.graded,
                    total=25.0,
                    counted=True,  # its only one (what core.services.standings would choose)
                )
            )
            ids.append(user.id)
        session.commit()
        students, new = ids[: args.students], ids[args.students :]

        started = time.perf_counter()
        for done, user_id in enumerate(students, start=1):
            similarity.index_student(session, assignment.id, user_id)
            if done % 100 == 0:
                print(f"  indexed {done}/{len(students)} ({time.perf_counter() - started:.1f} s)", flush=True)
        all_pairs = time.perf_counter() - started

        incremental = []
        for user_id in new:
            started = time.perf_counter()
            similarity.index_student(session, assignment.id, user_id)
            incremental.append(time.perf_counter() - started)

        rows, total = similarity.pairs(session, assignment, limit=100_000)
        fingerprints = session.scalar(select(func.count()).select_from(SimilarityFingerprint))
        close = {frozenset((row.document_a.label, row.document_b.label)) for row in rows if row.score >= 0.85}
        found = sum(frozenset((f"s{i:04d}", f"s{i + 1:04d}")) in close for i in copies)

        started = time.perf_counter()
        groups = clusters(session, assignment)
        clustering = time.perf_counter() - started
        members = [{m.document.label for m in cluster.members} for cluster in groups]
        leaked_found = {f"s{i:04d}" for i in leaked} in members

    pairs_compared = args.students * (args.students - 1) // 2
    print("\n== results")
    print(f"fingerprinting one handin          {per_fingerprint * 1000:.1f} ms")
    print(
        f"all pairs, {args.students} submissions       {all_pairs:.1f} s "
        f"({pairs_compared} pairs, {all_pairs / args.students * 1000:.0f} ms per submission indexed)"
    )
    print(
        f"one new submission (incremental)   {statistics.median(incremental) * 1000:.0f} ms median, "
        f"{max(incremental) * 1000:.0f} ms max (vs {all_pairs:.1f} s for all pairs again: "
        f"{all_pairs / statistics.median(incremental):.0f}x)"
    )
    print(f"index                              {fingerprints} fingerprints, {total} pairs sharing code")
    print(f"disguised copies found             {found} of {args.copies} paired at 85% or more")
    sizes = ", ".join(str(len(m)) for m in members)
    print(
        f"clusters                           {len(groups)} ({sizes} students) in {clustering * 1000:.0f} ms; "
        f"the {args.leaked} who hand in the leaked solution "
        f"{'are' if leaked_found else 'are NOT'} one of them"
    )


if __name__ == "__main__":
    main()
