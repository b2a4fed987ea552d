"""The similarity index on the database: common idioms are set aside, a student's document follows
their counted submission, and a rebuild gives the pairs the incremental updates gave."""

from __future__ import annotations

import random

import pytest
from tests_support import tar_bytes

from api.crud import similarity, submissions
from api.models import SimilarityPair, Status

IDIOM = "def step(self):\n    for p in self.params:\n        p.data = p.data - self.lr * p.grad.data\n" * 3


OPERATORS = [
    "+",
    "-",
    "*",
    "/",
    "%",
    "**",
    "//",
    "&",
    "|",
    "^",
    "<<",
    ">>",
    "<",
    ">",
    "<=",
    ">=",
    "==",
    "!=",
    "and",
    "or",
    "in",
    "is",
]
OPERANDS = ("v", "1", "'s'", "g(v)", "v[0]", "v.x", "(v or 1)", "not v", "-v", "[v]", "{v: v}", "lambda: v")


def own_code(seed: int) -> str:
    """Code no one else writes: a function of long random expressions (a rich token alphabet)."""
    rng = random.Random(seed)
    lines = [
        f"    v{i} = v " + " ".join(f"{rng.choice(OPERATORS)} {rng.choice(OPERANDS)}" for _ in range(20))
        for i in range(12)
    ]
    return "def own(v, g):\n" + "\n".join(lines) + "\n"


@pytest.fixture
def index(db, assignment, make_user):
    def submit(username: str, code: str, version_total: float = 25.0):
        user, _ = make_user(username)
        data = tar_bytes({"mytorch/__init__.py": b"", "mytorch/optim/adam.py": code.encode()})
        row = submissions.create(db, assignment, user, data)
        row.status, row.total = Status.graded, version_total
        db.commit()
        similarity.index_student(db, assignment.id, user.id)
        return user

    return submit


def labels(db, assignment) -> set[frozenset]:
    rows, _ = similarity.pairs(db, assignment, limit=10_000)
    return {frozenset((row.document_a.label, row.document_b.label)) for row in rows}


def test_an_idiom_in_every_handin_links_nobody_once_it_is_common(db, assignment, index):
    index("s00", IDIOM + own_code(0))
    index("s01", IDIOM + own_code(0).replace("v0", "x0"))  # a copy of s00's own code
    for number in range(2, 12):
        index(f"s{number:02d}", IDIOM + own_code(number))
    assert similarity.common_cutoff(db, assignment.id) == 10
    found = labels(db, assignment)
    assert frozenset(("s00", "s01")) in found
    late = {pair for pair in found if any(int(label[1:]) >= 10 for label in pair)}
    assert late == set()  # by the 11th handin the idiom is common: it pairs the newcomers with no one

    copy = next(row for row in similarity.pairs(db, assignment)[0] if row.document_a.label in ("s00", "s01"))
    assert copy.score > 0.9
    detail = similarity.pair_detail(db, copy.id)
    idiom_lines = len(IDIOM.splitlines())
    assert all(region.first_line > idiom_lines for region in detail.comparison.regions_a)


def test_a_new_counted_submission_replaces_the_old_document_and_its_pairs(db, assignment, index, make_user):
    index("alice", own_code(1))
    bob = index("bob", own_code(1))
    assert labels(db, assignment) == {frozenset(("alice", "bob"))}
    index("bob", own_code(2))  # a second version, counted (latest)
    assert labels(db, assignment) == set()
    assert similarity.index_student(db, assignment.id, bob.id) is False  # already current: nothing to do
    assert similarity.stale_students(db, assignment) == []


def test_a_rebuild_gives_the_same_pairs(db, assignment, index):
    for number in range(6):
        index(f"s{number}", own_code(number % 3))
    before = {
        (frozenset((r.document_a.label, r.document_b.label)), round(r.score, 9))
        for r in similarity.pairs(db, assignment)[0]
    }
    assert similarity.rebuild(db, assignment) == 6
    db.expire_all()
    after = {
        (frozenset((r.document_a.label, r.document_b.label)), round(r.score, 9))
        for r in similarity.pairs(db, assignment)[0]
    }
    assert before == after and len(before) == 3
    assert db.query(SimilarityPair).count() == 3
