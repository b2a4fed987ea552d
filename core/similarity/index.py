"""The similarity index of an assignment: a document per student (their counted submission) and
per archived handin of earlier semesters, its fingerprints, and the pairs of documents that share
code. Updated one document at a time: a new document is compared with the stored ones through the
fingerprint index, never all pairs from scratch.

A pair's figures depend on its two documents and on the code set aside (the handout's starter code,
and what staff mark as given) only: never on who else handed in the same code, nor on the order of
the uploads, so the list and the side-by-side view agree. Code many students share is shown as a
cluster (clusters.py), not discounted."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased, selectinload

from core.models import (
    ArchiveStatus,
    Assignment,
    Blob,
    Role,
    SimilarityArchive,
    SimilarityDocument,
    SimilarityFingerprint,
    SimilarityGiven,
    SimilarityPair,
    Submission,
    User,
    storable,
    utcnow,
)
from core.services.submissions import counted, store_blob
from core.similarity.corpus import Skipped, read_corpus
from core.similarity.engine import (
    MAX_SOURCE_BYTES,
    Comparison,
    Document,
    Fingerprint,
    code_hashes,
    compare,
    fingerprint,
    starter_hashes,
)
from grader.paths import HANDOUT_DIR
from grader.unpack import HandinError, read_handin_files

log = logging.getLogger(__name__)
MIN_SHARED = 3  # fewer shared fingerprints than this is a coincidence, not a pair to show
MIN_SCORE = 0.05  # nor is a pair sharing less than 5% of either side's code
LABEL_CHARS = 300
GIVEN_LABEL_CHARS = 200
MAX_GIVEN_CHARS = MAX_SOURCE_BYTES  # as much as one source file of a handin
CHUNK = 500  # hashes per IN (...) query


def starter() -> frozenset[int]:
    return starter_hashes(HANDOUT_DIR)


def lock(session: Session, assignment_id: int) -> Assignment | None:
    """Serialises index updates of one assignment (two new documents must see each other).

    FOR NO KEY UPDATE: uploads, whose foreign key takes a KEY SHARE lock on the row, never wait.
    """
    return session.scalar(
        select(Assignment).where(Assignment.id == assignment_id).with_for_update(key_share=True)
    )


def _chunks(values: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def given_hashes(session: Session, assignment_id: int) -> frozenset[int]:
    """Every k-gram hash of the code staff marked as given for the assignment."""
    sources = session.scalars(
        select(SimilarityGiven.source).where(SimilarityGiven.assignment_id == assignment_id)
    )
    return frozenset().union(*map(code_hashes, sources))


def document_counts(session: Session, document_ids: list[int], given: AbstractSet[int]) -> dict[int, int]:
    """Each document's count of distinct fingerprints, less the given hashes it holds (counted in
    SQL: the given code may be held by most documents)."""
    counts: dict[int, int] = {}
    for chunk in _chunks(document_ids):
        counts.update(
            session.execute(
                select(SimilarityDocument.id, SimilarityDocument.fingerprint_count).where(
                    SimilarityDocument.id.in_(chunk)
                )
            ).all()
        )
        for given_chunk in _chunks(sorted(given)):
            for document_id, held in session.execute(
                select(
                    SimilarityFingerprint.document_id, func.count(func.distinct(SimilarityFingerprint.hash))
                )
                .where(
                    SimilarityFingerprint.document_id.in_(chunk), SimilarityFingerprint.hash.in_(given_chunk)
                )
                .group_by(SimilarityFingerprint.document_id)
            ):
                counts[document_id] -= held
    return counts


def _shared_with(
    session: Session,
    row: SimilarityDocument,
    document: Document,
    given: AbstractSet[int],
    skip: AbstractSet[int],
) -> dict[int, Document]:
    """The other documents (but those in `skip`) sharing any of `document`'s hashes, limited to the
    shared fingerprints, their counts less the given hashes they hold. An archived handin is looked
    up among the students only: earlier semesters among themselves are not news."""
    found: dict[int, list[Fingerprint]] = defaultdict(list)
    for chunk in _chunks(sorted({f.hash for f in document.fingerprints})):
        query = (
            select(
                SimilarityFingerprint.document_id,
                SimilarityFingerprint.hash,
                SimilarityFingerprint.file,
                SimilarityFingerprint.first_line,
                SimilarityFingerprint.last_line,
            )
            .join(SimilarityDocument, SimilarityDocument.id == SimilarityFingerprint.document_id)
            .where(
                SimilarityFingerprint.hash.in_(chunk),
                SimilarityDocument.assignment_id == row.assignment_id,
                SimilarityDocument.id != row.id,
            )
        )
        if row.archive_id is not None:
            query = query.where(SimilarityDocument.archive_id.is_(None))
        for other, hash_, file, first, last in session.execute(query):
            if other not in skip:
                found[other].append(Fingerprint(hash_, file, first, last))
    counts = document_counts(session, list(found), given)
    return {other: Document(tuple(fps), counts[other]) for other, fps in found.items()}


def store_document(session: Session, row: SimilarityDocument, document: Document) -> None:
    """Stores a document and its fingerprints, without comparing it with anything yet."""
    row.fingerprint_count = document.count
    row.label = row.label[:LABEL_CHARS]
    session.add(row)
    session.flush()
    if document.fingerprints:
        session.execute(
            insert(SimilarityFingerprint),
            [
                {
                    "document_id": row.id,
                    "hash": f.hash,
                    "file": f.file,
                    "first_line": f.first_line,
                    "last_line": f.last_line,
                }
                for f in document.fingerprints
            ],
        )


def pair_document(
    session: Session,
    row: SimilarityDocument,
    document: Document,
    given: AbstractSet[int],
    skip: AbstractSet[int] = frozenset(),
) -> int:
    """Stores the pairs of a stored document with the others (but those in `skip`, already paired
    with it); returns how many. Scores are fractions of the code that is not given."""
    pairs = []
    now = utcnow()
    mine = document.without(given)
    for other, theirs in _shared_with(session, row, mine, given, skip).items():
        comparison = compare(mine, theirs)
        if comparison.shared < MIN_SHARED or comparison.score < MIN_SCORE:
            continue
        new_side = (comparison.fraction_a, comparison.lines_a)
        other_side = (comparison.fraction_b, comparison.lines_b)
        a, b = (new_side, other_side) if row.id < other else (other_side, new_side)
        pairs.append(
            {
                "assignment_id": row.assignment_id,
                "document_a_id": min(row.id, other),
                "document_b_id": max(row.id, other),
                "score": comparison.score,
                "shared": comparison.shared,
                "fraction_a": a[0],
                "fraction_b": b[0],
                "lines_a": a[1],
                "lines_b": b[1],
                "updated_at": now,
            }
        )
    if pairs:
        session.execute(insert(SimilarityPair), pairs)
    return len(pairs)


def add_document(session: Session, row: SimilarityDocument, document: Document) -> int:
    """Stores a document with its fingerprints and its pairs with the others; returns how many pairs."""
    store_document(session, row, document)
    return pair_document(session, row, document, given_hashes(session, row.assignment_id))


def _handin_files(session: Session, blob_sha256: str) -> dict[str, bytes]:
    try:
        return read_handin_files(session.get(Blob, blob_sha256).data)
    except HandinError:
        return {}  # graded handins always read; an unreadable one has no code to compare


def _submission_document(session: Session, submission: Submission) -> Document:
    return fingerprint(_handin_files(session, submission.blob_sha256), starter())


def _student_row(submission: Submission) -> SimilarityDocument:
    return SimilarityDocument(
        assignment_id=submission.assignment_id,
        user_id=submission.user_id,
        submission_id=submission.id,
        label=submission.user.username,
        blob_sha256=submission.blob_sha256,
    )


def _counted_students(session: Session, assignment: Assignment, user_id: int | None = None) -> dict[int, int]:
    """user_id -> counted submission id, for students only (staff test handins are not indexed)."""
    students = select(User.id).where(User.role == Role.student)
    if user_id is not None:
        students = students.where(User.id == user_id)
    ids = set(session.scalars(students))
    return {
        user: submission_id
        for user, submission_id in counted(session, assignment, user_id).items()
        if user in ids
    }


def _wanted(session: Session, assignment: Assignment, user_id: int) -> Submission | None:
    """The submission that should stand for the student in the index: their counted one."""
    submission_id = _counted_students(session, assignment, user_id).get(user_id)
    return session.get(Submission, submission_id) if submission_id else None


def index_student(session: Session, assignment_id: int, user_id: int) -> bool:
    """Brings the student's document up to date with their counted submission; True if it changed.

    The handin is fingerprinted before the index is locked (the lock is held for the writes
    only). Idempotent: a repeated or late task finds the document current and does nothing.
    """
    assignment = session.get(Assignment, assignment_id)
    if assignment is None:
        return False
    for _ in range(3):  # the counted submission may change while the handin is fingerprinted
        wanted = _wanted(session, assignment, user_id)
        document = _submission_document(session, wanted) if wanted else None
        session.rollback()  # end the read transaction before the lock
        lock(session, assignment_id)
        now_wanted = _wanted(session, assignment, user_id)
        if (now_wanted.id if now_wanted else None) == (wanted.id if wanted else None):
            break
        session.rollback()
    else:
        return False  # it keeps changing: the next task (one per grading) will do it
    current = session.scalar(
        select(SimilarityDocument).where(
            SimilarityDocument.assignment_id == assignment_id, SimilarityDocument.user_id == user_id
        )
    )
    if (current.submission_id if current else None) == (wanted.id if wanted else None):
        session.rollback()
        return False
    if current is not None:
        session.execute(delete(SimilarityDocument).where(SimilarityDocument.id == current.id))
    if wanted is not None:
        pairs = add_document(session, _student_row(wanted), document)
        log.info(
            "similarity: %s version %s indexed, %s similar pair(s)",
            wanted.user.username,
            wanted.version,
            pairs,
            extra={"submission_id": wanted.id},
        )
    session.commit()
    return True


def stale_students(
    session: Session, assignment: Assignment, graded_before: datetime | None = None
) -> list[int]:
    """Students whose document is missing or not their counted submission (a lost update task);
    with `graded_before`, only those whose counted submission was graded before then (the update
    of a submission graded just now is still on its way)."""
    wanted = _counted_students(session, assignment)
    if graded_before is not None:
        recent = set(
            session.scalars(
                select(Submission.id).where(
                    Submission.assignment_id == assignment.id, Submission.graded_at >= graded_before
                )
            )
        )
        wanted = {user: submission for user, submission in wanted.items() if submission not in recent}
    indexed = dict(
        session.execute(
            select(SimilarityDocument.user_id, SimilarityDocument.submission_id).where(
                SimilarityDocument.assignment_id == assignment.id, SimilarityDocument.user_id.is_not(None)
            )
        ).all()
    )
    return sorted(user for user in set(wanted) | set(indexed) if wanted.get(user) != indexed.get(user))


ARCHIVE_LABEL_PATTERN = r"^\w[\w.\- ]*$"  # e.g. "fall2020": letters, digits, '.', '-', spaces
ARCHIVE_LABEL_CHARS = 100


def valid_archive_label(label: str) -> bool:
    return len(label) <= ARCHIVE_LABEL_CHARS and re.fullmatch(ARCHIVE_LABEL_PATTERN, label) is not None


def create_archive(session: Session, assignment: Assignment, label: str, data: bytes) -> SimilarityArchive:
    archive = SimilarityArchive(
        assignment_id=assignment.id, label=label, blob_sha256=store_blob(session, data)
    )
    session.add(archive)
    session.commit()
    return archive


def rebuild(
    session: Session, assignment: Assignment, progress: Callable[[int, int], None] | None = None
) -> int:
    """Indexes every student's counted submission from scratch (after a change of the handout or of
    the Python that tokenizes). Returns how many documents; archives are kept."""
    wanted = [session.get(Submission, i) for i in _counted_students(session, assignment).values()]
    indexed = [(_student_row(s), _submission_document(session, s)) for s in wanted]
    session.rollback()
    lock(session, assignment.id)
    session.execute(delete(SimilarityPair).where(SimilarityPair.assignment_id == assignment.id))
    session.execute(
        delete(SimilarityDocument).where(
            SimilarityDocument.assignment_id == assignment.id, SimilarityDocument.archive_id.is_(None)
        )
    )
    given = given_hashes(session, assignment.id)
    for done, (row, document) in enumerate(indexed, start=1):
        store_document(session, row, document)
        pair_document(session, row, document, given)  # with the archives and the students before it
        if progress:
            progress(done, len(indexed))
    session.commit()
    return len(indexed)


def claim_archive(session: Session, archive_id: int, stale_before: datetime) -> bool:
    """Takes an archive for indexing: a queued one, or one whose run stopped giving signs of life.
    Two runs of the same archive (a task sent twice) never index it side by side."""
    claimed = session.execute(
        update(SimilarityArchive)
        .where(
            SimilarityArchive.id == archive_id,
            or_(
                SimilarityArchive.status == ArchiveStatus.queued,
                (SimilarityArchive.status == ArchiveStatus.indexing)
                & (SimilarityArchive.heartbeat_at < stale_before),
            ),
        )
        .values(status=ArchiveStatus.indexing, heartbeat_at=utcnow(), handins_indexed=0, error="")
    ).rowcount
    session.commit()
    return claimed == 1


def index_archive(
    session: Session,
    archive_id: int,
    stale_before: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> SimilarityArchive | None:
    """Fingerprints each handin of an archive, committing as it goes (the page shows the progress).

    Does nothing unless it can claim the archive (see claim_archive; `stale_before` defaults to an
    hour ago). Any failure leaves the archive in error with the reason, never stuck indexing.
    """
    stale_before = stale_before or utcnow() - timedelta(hours=1)
    if not claim_archive(session, archive_id, stale_before):
        return session.get(SimilarityArchive, archive_id)
    archive = session.get(SimilarityArchive, archive_id)
    session.execute(delete(SimilarityDocument).where(SimilarityDocument.archive_id == archive.id))
    session.commit()
    skipped: list[Skipped] = []
    data = session.get(Blob, archive.blob_sha256).data
    try:
        for handin in read_corpus(data, skipped=skipped):
            document = fingerprint(handin.files, starter())
            lock(session, archive.assignment_id)
            row = SimilarityDocument(
                assignment_id=archive.assignment_id,
                archive_id=archive.id,
                label=f"{archive.label}/{handin.name}",
                blob_sha256=store_blob(session, handin.data),
            )
            add_document(session, row, document)
            archive.handins_indexed += 1
            archive.heartbeat_at = utcnow()
            session.commit()
            if progress:
                progress(archive.handins_indexed)
        archive.status = ArchiveStatus.done
    except HandinError as error:
        archive.status, archive.error = ArchiveStatus.error, str(error)
    except Exception as error:
        session.rollback()
        archive.status, archive.error = ArchiveStatus.error, f"indexing failed: {error}"[:2000]
        session.commit()
        raise
    archive.handins_total = archive.handins_indexed + len(skipped)
    archive.skipped = "\n".join(f"{s.name}: {s.reason}" for s in skipped)
    session.commit()
    return archive


def archives(session: Session, assignment: Assignment) -> list[SimilarityArchive]:
    return list(
        session.scalars(
            select(SimilarityArchive)
            .where(SimilarityArchive.assignment_id == assignment.id)
            .order_by(SimilarityArchive.id)
        )
    )


def archives_to_send(session: Session, queued_before: datetime, stale_before: datetime) -> list[int]:
    """Archives still queued a while after upload (their task was never sent or was lost), and
    those whose indexing run stopped giving signs of life (its worker died)."""
    return list(
        session.scalars(
            select(SimilarityArchive.id).where(
                or_(
                    (SimilarityArchive.status == ArchiveStatus.queued)
                    & (SimilarityArchive.created_at < queued_before),
                    (SimilarityArchive.status == ArchiveStatus.indexing)
                    & (SimilarityArchive.heartbeat_at < stale_before),
                )
            )
        )
    )


def delete_archive(session: Session, archive: SimilarityArchive) -> None:
    """Removes an archive, its documents and pairs, and the handins stored for it alone."""
    shas = set(
        session.scalars(
            select(SimilarityDocument.blob_sha256).where(SimilarityDocument.archive_id == archive.id)
        )
    ) | {archive.blob_sha256}
    session.execute(delete(SimilarityDocument).where(SimilarityDocument.archive_id == archive.id))
    session.delete(archive)
    session.flush()
    for table in (Submission, SimilarityDocument, SimilarityArchive):  # still used elsewhere: kept
        shas -= set(session.scalars(select(table.blob_sha256).where(table.blob_sha256.in_(shas))))
    if shas:
        session.execute(delete(Blob).where(Blob.sha256.in_(shas)))
    session.commit()


def pairs(
    session: Session, assignment: Assignment, offset: int = 0, limit: int = 100, q: str = ""
) -> tuple[list[SimilarityPair], int]:
    """The most similar pairs first; `q` filters on either side's label (a username)."""
    a, b = aliased(SimilarityDocument), aliased(SimilarityDocument)
    query = (
        select(SimilarityPair)
        .join(a, a.id == SimilarityPair.document_a_id)
        .join(b, b.id == SimilarityPair.document_b_id)
        .where(SimilarityPair.assignment_id == assignment.id)
    )
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(or_(func.lower(a.label).like(pattern), func.lower(b.label).like(pattern)))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(
        query.options(
            selectinload(SimilarityPair.document_a).selectinload(SimilarityDocument.user),
            selectinload(SimilarityPair.document_a).selectinload(SimilarityDocument.submission),
            selectinload(SimilarityPair.document_b).selectinload(SimilarityDocument.user),
            selectinload(SimilarityPair.document_b).selectinload(SimilarityDocument.submission),
        )
        .order_by(SimilarityPair.score.desc(), SimilarityPair.shared.desc(), SimilarityPair.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), total


def document_count(session: Session, assignment: Assignment) -> dict[str, int]:
    rows = session.execute(
        select(SimilarityDocument.archive_id.is_(None), func.count())
        .where(SimilarityDocument.assignment_id == assignment.id)
        .group_by(SimilarityDocument.archive_id.is_(None))
    ).all()
    counts = {("students" if is_student else "archived"): n for is_student, n in rows}
    return {"students": counts.get("students", 0), "archived": counts.get("archived", 0)}


@dataclass
class PairDetail:
    pair: SimilarityPair
    files_a: dict[str, str]
    files_b: dict[str, str]
    comparison: Comparison


def _stored(session: Session, document_id: int) -> Document:
    rows = session.execute(
        select(
            SimilarityFingerprint.hash,
            SimilarityFingerprint.file,
            SimilarityFingerprint.first_line,
            SimilarityFingerprint.last_line,
        ).where(SimilarityFingerprint.document_id == document_id)
    ).all()
    return Document(
        tuple(Fingerprint(*row) for row in rows),
        session.get(SimilarityDocument, document_id).fingerprint_count,
    )


def sources(session: Session, document: SimilarityDocument) -> dict[str, str]:
    """The files of a document's handin, decoded as the tokenizer read them."""
    return {
        path: data.decode("utf-8", "replace")
        for path, data in _handin_files(session, document.blob_sha256).items()
    }


def pair_detail(session: Session, pair_id: int) -> PairDetail | None:
    """Both sides' files, and the matching regions from the stored fingerprints (given code left
    out): the figures the list shows, worked out again."""
    pair = session.get(SimilarityPair, pair_id)
    if pair is None:
        return None
    given = given_hashes(session, pair.assignment_id)
    a, b = (_stored(session, side).without(given) for side in (pair.document_a_id, pair.document_b_id))
    return PairDetail(
        pair, sources(session, pair.document_a), sources(session, pair.document_b), compare(a, b)
    )


# --- code marked as given ------------------------------------------------------------------------


def given_code(session: Session, assignment: Assignment) -> list[SimilarityGiven]:
    return list(
        session.scalars(
            select(SimilarityGiven)
            .where(SimilarityGiven.assignment_id == assignment.id)
            .order_by(SimilarityGiven.id)
        )
    )


def _holders(session: Session, assignment_id: int, hashes: AbstractSet[int]) -> set[int]:
    """The documents of the assignment that hold any of these hashes."""
    found: set[int] = set()
    for chunk in _chunks(sorted(hashes)):
        found.update(
            session.scalars(
                select(SimilarityFingerprint.document_id)
                .join(SimilarityDocument, SimilarityDocument.id == SimilarityFingerprint.document_id)
                .where(
                    SimilarityFingerprint.hash.in_(chunk), SimilarityDocument.assignment_id == assignment_id
                )
                .distinct()
            )
        )
    return found


def _pair_again(session: Session, assignment_id: int, hashes: AbstractSet[int]) -> int:
    """Works out again the pairs of the documents holding any of these hashes (code marked as given
    or no longer): no other pair changes. Returns how many documents."""
    holders = sorted(_holders(session, assignment_id, hashes))
    for chunk in _chunks(holders):
        session.execute(
            delete(SimilarityPair).where(
                or_(SimilarityPair.document_a_id.in_(chunk), SimilarityPair.document_b_id.in_(chunk))
            )
        )
    given = given_hashes(session, assignment_id)
    paired: set[int] = set()
    for document_id in holders:
        row = session.get(SimilarityDocument, document_id)
        pair_document(session, row, _stored(session, document_id), given, skip=paired)
        paired.add(document_id)
    return len(holders)


def add_given(session: Session, assignment: Assignment, label: str, source: str, by: str) -> SimilarityGiven:
    """Marks code as given: from now on it counts for no pair and no cluster, like the starter code."""
    lock(session, assignment.id)
    given = SimilarityGiven(
        assignment_id=assignment.id,
        label=label[:GIVEN_LABEL_CHARS],
        source=storable(source, MAX_GIVEN_CHARS),  # as stored, so that its hashes are the same
        by=by,
    )
    session.add(given)
    session.flush()
    paired = _pair_again(session, assignment.id, code_hashes(given.source))
    session.commit()
    log.info("similarity: %r marked as given by %s, %s handin(s) paired again", given.label, by, paired)
    return given


def remove_given(session: Session, given: SimilarityGiven) -> None:
    """Counts that code again."""
    assignment_id, label, hashes = given.assignment_id, given.label, code_hashes(given.source)
    lock(session, assignment_id)
    session.delete(given)
    session.flush()
    paired = _pair_again(session, assignment_id, hashes)
    session.commit()
    log.info("similarity: %r counts again, %s handin(s) paired again", label, paired)
