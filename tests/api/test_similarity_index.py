"""The similarity index on the database: code many students share is a cluster, not discounted; code
staff mark as given is set aside; a student's document follows their counted submission, and a
rebuild gives the pairs the incremental updates gave."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from support.handins import tar_bytes
from support.reports import report
from support.similarity_sources import own_code

from core.models import Blob, Role, SimilarityPair, Submission, User
from core.services import submissions
from core.similarity import index as similarity
from core.similarity.clusters import clusters

IDIOM = "def step(self):\n    for p in self.params:\n        p.data = p.data - self.lr * p.grad.data\n" * 3


@pytest.fixture
def index(db, assignment, make_user):
    def submit(username: str, code: str):
        user, _ = make_user(username)
        data = tar_bytes({"mytorch/__init__.py": b"", "mytorch/optim/adam.py": code.encode()})
        row, _ = submissions.create(db, assignment, user, data)
        submissions.store_report(db, row.id, report())
        similarity.index_student(db, assignment.id, user.id)
        return user

    return submit


def labels(db, assignment) -> set[frozenset]:
    rows, _ = similarity.pairs(db, assignment, limit=10_000)
    return {frozenset((row.document_a.label, row.document_b.label)) for row in rows}


def test_an_idiom_in_every_handin_counts_for_everyone_until_staff_mark_it_given(db, assignment, index):
    """Code that many write is not discounted for being common (nor is it a cluster: an idiom is too
    little of anyone's code); once marked as given it counts for no one."""
    index("s00", IDIOM + own_code(0))
    index("s01", IDIOM + own_code(0).replace("v0", "x0"))  # a copy of s00's own code
    for number in range(2, 12):
        index(f"s{number:02d}", IDIOM + own_code(number))
    idiom_lines = len(IDIOM.splitlines())
    [copy] = similarity.pairs(db, assignment)[0]
    assert {copy.document_a.label, copy.document_b.label} == {"s00", "s01"}
    assert similarity.pair_detail(db, copy.id).comparison.regions_a[0].first_line < idiom_lines
    assert clusters(db, assignment) == []

    similarity.add_given(db, assignment, "the idiom", IDIOM, "ta")
    [copy] = similarity.pairs(db, assignment)[0]
    assert copy.score > 0.9
    detail = similarity.pair_detail(db, copy.id)
    assert min(r.first_line for r in detail.comparison.regions_a) >= idiom_lines  # a k-gram runs on past it


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


def test_indexing_never_holds_up_an_upload_to_the_assignment(db, assignment, make_user, migrated):
    """The index lock (FOR NO KEY UPDATE) does not conflict with the key-share lock of an insert."""
    from sqlalchemy import text

    from core.db import session_factory

    alice, _ = make_user("alice")
    with session_factory()() as indexing:
        similarity.lock(indexing, assignment.id)  # an index update in progress, transaction open
        db.execute(text("SET lock_timeout = '2s'"))
        row, _ = submissions.create(db, assignment, alice, tar_bytes({"mytorch/a.py": b"x = 1\n"}))
        assert row.id is not None
        indexing.rollback()


def test_long_paths_and_long_labels_are_indexed_not_refused(db, assignment, index):
    deep = "mytorch/" + "/".join(["d" * 200] * 3) + "/copied.py"
    index("alice", own_code(5))
    other, _ = submissions.create(
        db, assignment, index("bob", "x = 1\n"), tar_bytes({deep: own_code(5).encode()}), attempts=1
    )
    submissions.store_report(db, other.id, report())
    assert similarity.index_student(db, assignment.id, other.user_id)
    assert labels(db, assignment) == {frozenset(("alice", "bob"))}

    handin = tar_bytes({"mytorch/a.py": own_code(5).encode()})
    archive = similarity.create_archive(db, assignment, "L" * 100, tar_bytes({"x" * 250 + ".tar": handin}))
    done = similarity.index_archive(db, archive.id)
    assert (done.status, done.handins_indexed) == ("done", 1)
    assert any(len(label) > 250 for pair in labels(db, assignment) for label in pair)


def test_an_archive_is_indexed_by_one_run_only(db, assignment, index):
    index("alice", own_code(7))
    handins = {
        f"h{i}.tar": tar_bytes({"mytorch/a.py": own_code(7 if i == 0 else 20 + i).encode()}) for i in range(3)
    }
    archive = similarity.create_archive(db, assignment, "f20", tar_bytes(handins))
    assert similarity.claim_archive(db, archive.id, stale_before=datetime.now(UTC) - timedelta(hours=1))
    # A second delivery of the task while the first run is alive: it does nothing.
    again = similarity.index_archive(db, archive.id, stale_before=datetime.now(UTC) - timedelta(hours=1))
    assert again.status == "indexing" and similarity.document_count(db, assignment)["archived"] == 0
    # The first run died without a word: once its heartbeat is stale, a new run takes over, once.
    done = similarity.index_archive(db, archive.id, stale_before=datetime.now(UTC) + timedelta(seconds=1))
    assert (done.status, done.handins_indexed) == ("done", 3)
    assert similarity.document_count(db, assignment)["archived"] == 3
    assert labels(db, assignment) == {frozenset(("alice", "f20/h0"))}

    # Deleting it takes its handins along, and keeps what a student's submission still uses.
    blobs = set(db.scalars(select(Blob.sha256)))
    similarity.delete_archive(db, done)
    assert labels(db, assignment) == set() and similarity.document_count(db, assignment)["archived"] == 0
    left = set(db.scalars(select(Blob.sha256)))
    assert len(blobs - left) == 4  # the archive and its three handins
    assert left == set(db.scalars(select(Submission.blob_sha256)))


TUTORIAL_HELPER = """
def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        index = it.multi_index
        old = x[index]
        x[index] = old + eps
        plus = f(x)
        x[index] = old - eps
        minus = f(x)
        x[index] = old
        grad[index] = (plus - minus) / (2 * eps)
        it.iternext()
    return grad


def relative_error(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))
"""


def test_code_marked_as_given_counts_for_no_pair_and_counts_again_once_removed(db, assignment, index):
    """Fifteen students use a tutorial's helper: it pairs them all (a cluster) until staff mark it
    as given; then only the real copy is paired, in the list and in a rebuild alike."""
    for number in range(14):
        index(f"s{number:02d}", TUTORIAL_HELPER + own_code(100 + number))
    index("copy", TUTORIAL_HELPER + own_code(100))
    everyone = labels(db, assignment)
    assert len(everyone) == 15 * 14 // 2
    assert [len(c.members) for c in clusters(db, assignment)] == [15]

    given = similarity.add_given(db, assignment, "tutorial 2", TUTORIAL_HELPER.replace("grad", "g"), "ta")
    assert labels(db, assignment) == {frozenset(("s00", "copy"))}
    similarity.rebuild(db, assignment)
    db.expire_all()
    assert labels(db, assignment) == {frozenset(("s00", "copy"))}

    similarity.remove_given(db, given)
    assert labels(db, assignment) == everyone


def test_names_that_a_spreadsheet_would_run_are_quoted_in_csv_exports(as_user, db, assignment, index):
    from core.services.grades import spreadsheet_safe

    assert [spreadsheet_safe(v) for v in ("=1+1", "+x", "-x", "@x", "alice")] == [
        "'=1+1",
        "'+x",
        "'-x",
        "'@x",
        "alice",
    ]
    index("alice", own_code(9))
    index("bob", own_code(9))
    db.execute(update(User).values(display_name="=HYPERLINK(1)"))
    db.commit()
    ta = as_user("ta", Role.ta)
    rows = list(csv.DictReader(io.StringIO(ta.get("/api/v1/assignments/hw1-bonus/similarity.csv").text)))
    assert rows and rows[0]["a_name"] == "'=HYPERLINK(1)"
    grades = ta.get("/api/v1/assignments/hw1-bonus/grades.csv").text
    assert "'=HYPERLINK(1)" in grades and ",=HYPERLINK" not in grades


def test_the_pair_view_marks_the_matched_lines_counted_as_the_tokenizer_counts_them():
    from api.routes.similarity import marked_lines
    from core.similarity.engine import Region

    source = "".join(f"line {n}\n" for n in range(1, 100)).replace("line 5\n", "line\x0c5\n")
    shown = marked_lines(source, [Region("f", 10, 12), Region("f", 14, 14), Region("f", 50, 50)], "f")
    hits = [number for number, _, hit in shown if hit]
    assert hits == [10, 11, 12, 14, 50]  # a form feed in line 5 shifts nothing
    numbered = [number for number, _, _ in shown]
    assert numbered == [None, *range(7, 18), None, *range(47, 54), None]
