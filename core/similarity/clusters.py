"""Clusters: groups of current students whose handins hold the same code (a solution passed around,
or code from a lecture that nobody marked as given). Code many students share is flagged this way,
never discounted: it is for staff to read it, and to mark it as given if it was.

A cluster starts from MIN_SHARED fingerprints or more held by exactly the same students (at least
MIN_STUDENTS of them); fingerprints whose holders are nearly the same students (a copy with a part
rewritten) join it. Its members are the students who hold a good part of its code, code that is a
good part of theirs too (an idiom of a line or two makes no cluster, as it makes no pair). All of it
is keyed by the students' usernames, so the clusters do not depend on the upload order.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from core.models import Assignment, SimilarityDocument, SimilarityFingerprint
from core.similarity.engine import Fingerprint, Region, merged_regions
from core.similarity.index import MIN_SCORE, MIN_SHARED, document_counts, given_hashes

MIN_STUDENTS = 5  # fewer show as pairs well enough
OVERLAP = 0.8  # holders this close to a cluster's core (Jaccard index) join it
MEMBER_SHARE = 0.25  # a member holds at least this much of the cluster's code


@dataclass
class Group:
    """Fingerprints and who holds how many of them; `core`, the holders of its largest part."""

    core: frozenset[str]
    hashes: set[int] = field(default_factory=set)
    held: Counter[str] = field(default_factory=Counter)
    members: list[str] = field(default_factory=list)  # the most of the code first, then by username

    def joins(self, students: frozenset[str]) -> bool:
        """Whether holders this close to the core (their sizes first: a quick no) join the group."""
        low, high = sorted((len(self.core), len(students)))
        return low >= OVERLAP * high and len(self.core & students) >= OVERLAP * len(self.core | students)

    def choose_members(self, sizes: Mapping[str, int]) -> None:
        """The students who hold a good part of the code, and for whom it is a good part of theirs
        (as much as would list two of them as a pair on it alone)."""
        enough = max(MIN_SHARED, MEMBER_SHARE * len(self.hashes))
        chosen = (s for s, n in self.held.items() if n >= enough and n >= MIN_SCORE * sizes[s])
        self.members = sorted(chosen, key=lambda s: (-self.held[s], s))


@dataclass
class Member:
    document: SimilarityDocument
    fingerprints: int  # of the cluster's fingerprints, how many this student's handin holds


@dataclass
class Cluster:
    fingerprints: int  # distinct fingerprints in the shared code
    members: list[Member]  # the most of the shared code first
    regions: list[Region]  # where the shared code is in the first member's handin

    @property
    def lines(self) -> int:
        return sum(r.last_line - r.first_line + 1 for r in self.regions)


def find_groups(holders: Mapping[int, frozenset[str]], sizes: Mapping[str, int]) -> list[Group]:
    """The clusters' groups, the most code first, from who holds each fingerprint hash (usernames)
    and the size of each one's handin (its fingerprints). A group starts from MIN_SHARED hashes
    held by exactly the same students; fewer only join a group."""
    by_holders: dict[frozenset[str], set[int]] = defaultdict(set)
    for hash_, students in holders.items():
        if len(students) >= MIN_STUDENTS:
            by_holders[students].add(hash_)
    groups: list[Group] = []
    for students, hashes in sorted(by_holders.items(), key=lambda g: (-len(g[1]), -len(g[0]), sorted(g[0]))):
        home = next((g for g in groups if g.joins(students)), None)
        if home is None and len(hashes) >= MIN_SHARED:
            home = Group(students)
            groups.append(home)
        if home is not None:
            home.hashes |= hashes
            home.held.update(dict.fromkeys(students, len(hashes)))
    for g in groups:
        g.choose_members(sizes)
    kept = [g for g in groups if len(g.members) >= MIN_STUDENTS]
    return sorted(kept, key=lambda g: (-len(g.hashes), -len(g.members), g.members))


def _students(assignment_id: int) -> tuple:
    return SimilarityDocument.assignment_id == assignment_id, SimilarityDocument.archive_id.is_(None)


def _widely_shared(session: Session, assignment_id: int) -> list[tuple[str, int]]:
    """(username, hash) of every student fingerprint that MIN_STUDENTS students or more hold."""
    widely = (
        select(SimilarityFingerprint.hash)
        .join(SimilarityDocument, SimilarityDocument.id == SimilarityFingerprint.document_id)
        .where(*_students(assignment_id))
        .group_by(SimilarityFingerprint.hash)
        .having(func.count(func.distinct(SimilarityFingerprint.document_id)) >= MIN_STUDENTS)
    )
    return session.execute(
        select(SimilarityDocument.label, SimilarityFingerprint.hash)
        .join(SimilarityDocument, SimilarityDocument.id == SimilarityFingerprint.document_id)
        .where(*_students(assignment_id), SimilarityFingerprint.hash.in_(widely))
    ).all()


def clusters(session: Session, assignment: Assignment) -> list[Cluster]:
    """The clusters of the assignment's students now, the most shared code first (given code aside).
    A student's document is labelled with their username."""
    given = given_hashes(session, assignment.id)
    holders: dict[int, set[str]] = defaultdict(set)
    for label, hash_ in _widely_shared(session, assignment.id):
        if hash_ not in given:
            holders[hash_].add(label)
    ids = dict(
        session.execute(
            select(SimilarityDocument.label, SimilarityDocument.id).where(*_students(assignment.id))
        ).all()
    )
    holding = sorted({label for students in holders.values() for label in students})
    counts = document_counts(session, [ids[label] for label in holding], given)
    found = find_groups(
        {hash_: frozenset(students) for hash_, students in holders.items()},
        {label: counts[ids[label]] for label in holding},
    )
    documents = {
        d.label: d
        for d in session.scalars(
            select(SimilarityDocument)
            .where(SimilarityDocument.id.in_({ids[label] for g in found for label in g.members}))
            .options(selectinload(SimilarityDocument.user), selectinload(SimilarityDocument.submission))
        )
    }
    return [_cluster(session, g, documents) for g in found]


def _cluster(session: Session, group: Group, documents: dict[str, SimilarityDocument]) -> Cluster:
    """A group as staff see it: its members, and where its code lies in the first member's handin."""
    members = [Member(documents[label], group.held[label]) for label in group.members]
    places = session.execute(
        select(
            SimilarityFingerprint.hash,
            SimilarityFingerprint.file,
            SimilarityFingerprint.first_line,
            SimilarityFingerprint.last_line,
        ).where(SimilarityFingerprint.document_id == members[0].document.id)
    )
    shared = (Fingerprint(*place) for place in places if place.hash in group.hashes)
    return Cluster(len(group.hashes), members, merged_regions(shared))
