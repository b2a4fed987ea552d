"""Tables of the service (SQLAlchemy 2). Schema changes go through an Alembic migration."""

from __future__ import annotations

import enum
import re
import secrets
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: use timezone-aware UTC datetimes")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8)


def storable(text: str, limit: int) -> str:
    """`text` as every database can store it: NUL and surrogates replaced by U+FFFD, at most `limit`
    characters. What a handin prints or raises reaches the database, and a single NUL once left a
    submission `running` forever (PostgreSQL refused the report, the sweeper ran it again and again)."""
    return UNSTORABLE.sub("\ufffd", text[:limit])


class StorableText(TypeDecorator):
    """A Text column whose values go through `storable`: the one place where text reaches the database."""

    impl = Text
    cache_ok = True

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit

    def process_bind_param(self, value, dialect):
        return None if value is None else storable(value, self.limit)


class StorableString(TypeDecorator):
    """A String(length) column whose values go through `storable`, capped at its length."""

    impl = String
    cache_ok = True

    def __init__(self, length: int):
        super().__init__(length)
        self.limit = length

    def process_bind_param(self, value, dialect):
        return None if value is None else storable(value, self.limit)


def new_grading_secret() -> str:
    return secrets.token_hex(32)


class Base(DeclarativeBase):
    pass


class Role(enum.StrEnum):
    student = "student"
    ta = "ta"
    admin = "admin"


class Status(enum.StrEnum):
    queued = "queued"
    running = "running"
    graded = "graded"
    error = "error"  # the grader could not run it after every retry (not the student's fault)


class Scoring(enum.StrEnum):
    latest = "latest"
    best = "best"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    nickname: Mapped[str] = mapped_column(String(64), unique=True)  # shown on the public scoreboard
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16), default=Role.student)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.ta, Role.admin)


class ApiToken(Base):
    """A bearer token for the CLI; only its sha256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to tell tokens apart
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class Assignment(Base):
    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    late_deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)  # no uploads after this
    late_penalty_per_day: Mapped[float] = mapped_column(Float, default=0.0)  # fraction of the score per day
    late_penalty_cap: Mapped[float | None] = mapped_column(Float)  # largest total fraction taken, if any
    max_submissions: Mapped[int | None] = mapped_column(Integer)
    scoring: Mapped[Scoring] = mapped_column(
        Enum(Scoring, native_enum=False, length=16), default=Scoring.latest
    )
    max_score: Mapped[float] = mapped_column(Float, default=25.0)
    runtime: Mapped[str] = mapped_column(String(64), default="default")
    public_scoreboard: Mapped[bool] = mapped_column(Boolean, default=True)
    # Off: students see that a handin was received and graded, not its score or feedback, until staff
    # release them. The public scoreboard follows the same rule.
    scores_released: Mapped[bool] = mapped_column(Boolean, default=True)
    # What students download from the assignment page; without a handout of its own, the built
    # dist/handout.tar is served.
    handout_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    writeup_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    writeup_name: Mapped[str] = mapped_column(StorableString(200), default="")
    # The hidden instances are drawn from it (grader/instances.py). Never shown to students, never
    # sent into a sandbox; staff rotate it (a new one, new instances) from the settings page or CLI.
    grading_secret: Mapped[str] = mapped_column(String(64), default=new_grading_secret)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def has_writeup(self) -> bool:
        return self.writeup_sha256 is not None

    def scores_visible_to(self, user: User) -> bool:
        """Staff always see scores and feedback; students once they are released."""
        return self.scores_released or user.is_staff


class Blob(Base):
    """Handin bytes, content-addressed: one row per distinct upload, in the database itself."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("assignment_id", "user_id", "version"),
        # A retried upload (same key) is the same submission: stored once, counted once.
        UniqueConstraint(
            "assignment_id",
            "user_id",
            "idempotency_key",
            name="uq_submissions_assignment_id_user_id_idempotency_key",
        ),
        Index("ix_submissions_assignment_id_counted", "assignment_id", "counted"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per student and assignment
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[Status] = mapped_column(
        Enum(Status, native_enum=False, length=16), default=Status.queued, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when a grading task was last sent
    sent_epoch: Mapped[str | None] = mapped_column(String(64))  # the broker's life it was sent in
    idempotency_key: Mapped[str | None] = mapped_column(String(100))  # the client's, for a retried upload
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # While graded, the job belongs to the worker that renews this lease; once it lapses the worker is
    # taken for dead and the job is sent again, however long grading may take.
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    graded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    total: Mapped[float | None] = mapped_column(Float)  # raw points as graded, before overrides and penalty
    # Worked out by core.services.standings from the rules in force (deadlines, the student's extension,
    # grace days, overrides), again whenever one of them changes: never frozen at upload time.
    late_days: Mapped[int] = mapped_column(Integer, default=0)
    grace_days: Mapped[int] = mapped_column(Integer, default=0)  # of the late days, those grace days cover
    score: Mapped[float | None] = mapped_column(Float)  # what the student gets: overrides, then penalty
    counted: Mapped[bool] = mapped_column(Boolean, default=False)  # the submission whose score counts
    comment: Mapped[str] = mapped_column(StorableText(8000), default="")  # from staff, for the student
    max_score: Mapped[float] = mapped_column(Float, default=25.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # times a worker took it up, regrades too
    sweeps: Mapped[int] = mapped_column(Integer, default=0)  # times the sweeper sent its job again
    log: Mapped[str] = mapped_column(StorableText(512 << 10), default="")
    error: Mapped[str] = mapped_column(StorableText(4000), default="")
    runtime: Mapped[dict] = mapped_column(JSON, default=dict)  # python, numpy, scipy, sandbox, instances
    duration_s: Mapped[float | None] = mapped_column(Float)
    cpu_s: Mapped[float | None] = mapped_column(Float)
    sandbox_kills: Mapped[str | None] = mapped_column(StorableString(200))  # e.g. "wall-clock,cpu"
    flags: Mapped[str | None] = mapped_column(StorableString(200))  # for staff, e.g. "imports torch"
    regrade_id: Mapped[int | None] = mapped_column(  # the last regrade that took it
        ForeignKey("regrades.id", ondelete="SET NULL"), index=True
    )

    user: Mapped[User] = relationship()
    assignment: Mapped[Assignment] = relationship()
    scores: Mapped[list[TestScore]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", order_by="TestScore.position"
    )
    overrides: Mapped[list[ScoreOverride]] = relationship(
        cascade="all, delete-orphan", order_by="ScoreOverride.test"
    )

    @property
    def late(self) -> bool:
        return self.late_days > 0

    @property
    def penalty_days(self) -> int:
        return self.late_days - self.grace_days

    def override(self, test: str = "") -> ScoreOverride | None:
        """The override of one test's points, or ("") of the total, if staff set one."""
        return next((row for row in self.overrides if row.test == test), None)


class Course(Base):
    """The course's own settings: one row."""

    __tablename__ = "course"

    id: Mapped[int] = mapped_column(primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")  # an IANA name; deadlines show in it
    grace_days: Mapped[int] = mapped_column(Integer, default=0)  # late days each student may use unpenalised


class Extension(Base):
    """More time for one student on one assignment: the due date and the late deadline move by `days`."""

    __tablename__ = "extensions"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(StorableText(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScoreOverride(Base):
    """Points set by staff in place of the grader's, for one test or ("") the whole total."""

    __tablename__ = "score_overrides"
    __table_args__ = (UniqueConstraint("submission_id", "test"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    test: Mapped[str] = mapped_column(StorableString(200), default="")  # a test's name; "" for the total
    points: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(StorableText(2000))
    by: Mapped[str] = mapped_column(StorableString(64))  # the staff member's username
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(Base):
    """A change staff made to grades or deadlines: who, when, what, the old and the new value."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(StorableString(64))  # a username, or "admin CLI"
    action: Mapped[str] = mapped_column(String(64))  # e.g. "override", "comment", "extension"
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    student_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    what: Mapped[str] = mapped_column(StorableString(200), default="")  # e.g. a test's name, "total"
    old: Mapped[str] = mapped_column(StorableText(8000), default="")
    new: Mapped[str] = mapped_column(StorableText(8000), default="")
    reason: Mapped[str] = mapped_column(StorableText(2000), default="")


class Regrade(Base):
    """Submissions that staff sent back to the grader together: its progress counts its own jobs only."""

    __tablename__ = "regrades"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    by: Mapped[str] = mapped_column(StorableString(64))
    submissions: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Worker(Base):
    """A grading worker that is up (or was): can it confine handins, and its last sign of life."""

    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(StorableString(200))  # the Celery node name, e.g. worker@host
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    grading: Mapped[bool] = mapped_column(Boolean)  # takes grading jobs
    confinement: Mapped[str] = mapped_column(StorableString(300), default="")  # what the check found
    weak: Mapped[bool] = mapped_column(Boolean, default=False)  # grades without full confinement
    problem: Mapped[str] = mapped_column(StorableText(2000), default="")  # why it takes no grading job


class LoginFailure(Base):
    """A failed login, kept for a short while to slow down password guessing."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class TestScore(Base):
    __tablename__ = "test_scores"
    __table_args__ = (UniqueConstraint("submission_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(StorableString(200))
    autolab: Mapped[str] = mapped_column(StorableString(200))
    problem: Mapped[str] = mapped_column(StorableString(32))
    points: Mapped[float] = mapped_column(Float)
    max_points: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)
    message: Mapped[str] = mapped_column(StorableText(16 << 10), default="")
    where_file: Mapped[str | None] = mapped_column(StorableString(300))
    where_line: Mapped[int | None] = mapped_column(Integer)

    submission: Mapped[Submission] = relationship(back_populates="scores")


class ArchiveStatus(enum.StrEnum):
    queued = "queued"
    indexing = "indexing"
    done = "done"
    error = "error"


class SimilarityArchive(Base):
    """Handins of earlier semesters that a TA uploaded: compared against, never scored."""

    __tablename__ = "similarity_archives"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))  # e.g. "fall2020"
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    status: Mapped[ArchiveStatus] = mapped_column(
        Enum(ArchiveStatus, native_enum=False, length=16), default=ArchiveStatus.queued
    )
    handins_total: Mapped[int | None] = mapped_column(Integer)
    handins_indexed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[str] = mapped_column(StorableText(64 << 10), default="")  # unreadable handins, and why
    error: Mapped[str] = mapped_column(StorableText(4000), default="")
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the indexing run's last sign of life
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SimilarityUpdateWaiting(Base):
    """A student's similarity update that was sent and is not yet taken up by a worker: no second one
    is sent after a grading meanwhile. One row to check, whatever the backlog (reading the whole queue
    cost 13 ms per 1,000 waiting jobs, on every grading: bench/similarity_send.py)."""

    __tablename__ = "similarity_updates_waiting"

    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SimilarityDocument(Base):
    """The fingerprinted code of one student's counted submission, or of one archived handin."""

    __tablename__ = "similarity_documents"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)  # one counted submission each

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    archive_id: Mapped[int | None] = mapped_column(
        ForeignKey("similarity_archives.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(StorableText(1000))  # the username, or "<archive label>/<handin name>"
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    fingerprint_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()
    submission: Mapped[Submission | None] = relationship()


class SimilarityFingerprint(Base):
    """One winnowed fingerprint of a document: the inverted index that finds similar documents."""

    __tablename__ = "similarity_fingerprints"
    __table_args__ = (Index("ix_similarity_fingerprints_hash_document", "hash", "document_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("similarity_documents.id", ondelete="CASCADE"), index=True
    )
    hash: Mapped[int] = mapped_column(BigInteger)
    file: Mapped[str] = mapped_column(StorableText(2000))  # as long as the unpacker allows
    first_line: Mapped[int] = mapped_column(Integer)
    last_line: Mapped[int] = mapped_column(Integer)


class SimilarityPair(Base):
    """Two documents that share code; document_a_id < document_b_id."""

    __tablename__ = "similarity_pairs"
    __table_args__ = (UniqueConstraint("document_a_id", "document_b_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    document_a_id: Mapped[int] = mapped_column(
        ForeignKey("similarity_documents.id", ondelete="CASCADE"), index=True
    )
    document_b_id: Mapped[int] = mapped_column(
        ForeignKey("similarity_documents.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[float] = mapped_column(Float, index=True)
    shared: Mapped[int] = mapped_column(Integer)
    fraction_a: Mapped[float] = mapped_column(Float)
    fraction_b: Mapped[float] = mapped_column(Float)
    lines_a: Mapped[int] = mapped_column(Integer)
    lines_b: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    document_a: Mapped[SimilarityDocument] = relationship(foreign_keys=[document_a_id])
    document_b: Mapped[SimilarityDocument] = relationship(foreign_keys=[document_b_id])


class SimilarityGiven(Base):
    """Code staff marked as given (a lecture's, a recitation's, a posted fix): it is set aside in the
    similarity check like the handout's starter code."""

    __tablename__ = "similarity_given"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(StorableString(200))  # a file name, or what staff called it
    source: Mapped[str] = mapped_column(StorableText(1 << 20))
    by: Mapped[str] = mapped_column(StorableString(64))  # the staff member's username
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
