"""Response and request bodies of the JSON API."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.models import Role, Scoring, Status


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    username: str
    display_name: str
    role: Role


class AssignmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    slug: str
    title: str
    due_at: datetime
    late_deadline_at: datetime
    late_penalty_per_day: float
    late_penalty_cap: float | None
    max_submissions: int | None
    scoring: Scoring
    max_score: float
    public_scoreboard: bool
    scores_released: bool
    has_writeup: bool = False


NULLABLE_SETTINGS = {"late_penalty_cap", "max_submissions"}  # null (or an empty field): none


class AssignmentUpdate(BaseModel):
    """Changed settings; date-times without a zone are taken as UTC."""

    title: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[^\x00]*$")
    due_at: datetime | None = None
    late_deadline_at: datetime | None = None
    late_penalty_per_day: float | None = Field(None, ge=0, le=1)
    late_penalty_cap: float | None = Field(None, ge=0, le=1)
    max_submissions: int | None = Field(None, ge=1, le=2**31 - 1)
    scoring: Scoring | None = None
    public_scoreboard: bool | None = None
    scores_released: bool | None = None

    @field_validator("due_at", "late_deadline_at")
    @classmethod
    def as_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        except OverflowError:
            raise ValueError("date out of range") from None

    @model_validator(mode="after")
    def required_settings_stay_set(self) -> AssignmentUpdate:
        emptied = sorted(
            name for name in self.model_fields_set - NULLABLE_SETTINGS if getattr(self, name) is None
        )
        if emptied:
            raise ValueError(f"{', '.join(emptied)} cannot be empty")
        return self


class TestScoreOut(BaseModel):
    name: str
    problem: str
    points: float  # what counts: staff's override, if any
    graded_points: float  # as the grader gave them
    overridden: bool
    max_points: float
    passed: bool
    message: str
    where_file: str | None
    where_line: int | None


class OverrideOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    test: str  # a test's name; "" for the total
    points: float
    reason: str
    by: str
    at: datetime


class OverrideIn(BaseModel):
    """Points in place of the grader's, for one test or (no test) the whole total; a reason is required."""

    test: str = Field("", max_length=200)
    points: float = Field(ge=0, le=1e6)
    reason: str = Field(min_length=1, max_length=2000)


class CommentIn(BaseModel):
    comment: str = Field("", max_length=8000)


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    at: datetime
    actor: str
    action: str
    what: str
    old: str
    new: str
    reason: str
    submission_id: int | None


class CourseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    time_zone: str  # an IANA name: deadlines show in it
    grace_days: int  # late days each student may use over the course, unpenalised


class CourseUpdate(BaseModel):
    time_zone: str | None = Field(None, min_length=1, max_length=64)
    grace_days: int | None = Field(None, ge=0, le=365)


class StandingOut(BaseModel):
    """The caller's deadlines in force and what they have left, now."""

    due_at: datetime
    late_deadline_at: datetime
    extension_days: int
    submissions_used: int
    submissions_limit: int | None
    submissions_left: int | None
    grace_days: int
    grace_days_used: int
    grace_days_left: int
    open: bool
    closed_reason: str | None


class ExtensionIn(BaseModel):
    days: int = Field(ge=1, le=365)
    reason: str = Field("", max_length=2000)


class ExtensionOut(BaseModel):
    username: str
    days: int
    due_at: datetime  # the student's, with the extension
    late_deadline_at: datetime
    reason: str
    created_at: datetime


class SubmissionCreated(BaseModel):
    id: int
    version: int
    status: Status
    status_url: str


class SubmissionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    assignment: str
    username: str
    version: int
    status: Status
    created_at: datetime
    graded_at: datetime | None
    late: bool
    late_days: int  # against the deadlines in force, with the student's extension
    grace_days: int  # of the late days, those the student's grace days cover
    released: bool  # False: graded, but staff have not released scores and feedback yet
    counted: bool  # the submission whose score counts
    total: float | None  # as graded
    adjusted_total: float | None  # what counts: overrides, then the late penalty
    overridden: bool
    overrides: list[OverrideOut] = []
    comment: str  # from course staff
    max_score: float
    size: int
    attempts: int
    runtime: dict
    scores: list[TestScoreOut]
    log: str
    error: str
    flags: list[str] = []  # for staff, read from the source: e.g. "imports torch"


class SubmissionSummary(BaseModel):
    id: int
    username: str
    version: int
    status: Status
    created_at: datetime
    late: bool
    total: float | None


class SubmissionPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[SubmissionSummary]


class ScoreboardRow(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    username: str
    display_name: str
    submission_id: int | None
    version: int | None
    submissions: int
    late: bool
    late_days: int
    grace_days: int
    grace_days_left: int
    total: float | None
    adjusted_total: float | None
    overridden: bool
    flags: list[str]
    tests: dict[str, float]


class ScoreStats(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    graded: int
    students: int
    mean: float | None
    median: float | None
    histogram: list[int]  # students per whole point of the counted score, 0..max


class Scoreboard(BaseModel):
    """One page of the scoreboard: `total` students match the query, `rows` from `offset`."""

    model_config = ConfigDict(from_attributes=True)
    assignment: str
    max_score: float
    tests: list[str]
    total: int
    offset: int
    limit: int
    rows: list[ScoreboardRow]


class RegradeQueued(BaseModel):
    queued: int
    regrade_id: int
    progress_url: str


class RegradeStatus(BaseModel):
    """A regrade's own jobs: graded again, failed on our side, still waiting or running."""

    total: int
    done: int
    failed: int
    pending: int
    finished: bool


class QueueCounts(BaseModel):
    queued: int = 0
    running: int = 0
    graded: int = 0
    error: int = 0


class LoginOut(UserOut):
    csrf_token: str  # send it as X-CSRF-Token with cookie-authenticated POST, PATCH and DELETE requests


class SimilaritySide(BaseModel):
    label: str  # the username, or "<archive label>/<handin name>"
    username: str | None  # None for an archived handin of an earlier semester
    display_name: str = ""
    submission_id: int | None
    version: int | None
    fraction: float  # of this side's fingerprints, how many the other side shares
    lines: int  # lines of this side inside matching regions


class SimilarityPairOut(BaseModel):
    id: int
    score: float  # the larger fraction, 0..1
    shared: int  # fingerprints in common
    a: SimilaritySide
    b: SimilaritySide
    updated_at: datetime


class SimilarityPage(BaseModel):
    assignment: str
    documents: dict[str, int]  # students and archived handins indexed
    total: int
    offset: int
    limit: int
    items: list[SimilarityPairOut]


class SimilarityRegionOut(BaseModel):
    file: str
    first_line: int
    last_line: int


class SimilarityPairDetail(SimilarityPairOut):
    regions_a: list[SimilarityRegionOut]
    regions_b: list[SimilarityRegionOut]


class SimilarityArchiveOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    label: str
    status: str
    handins_indexed: int
    handins_total: int | None
    skipped: str
    error: str
    created_at: datetime


class Instances(BaseModel):
    """The hidden test instances an assignment grades on, by name (the secret is never shown)."""

    instances: str


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    prefix: str  # the token's first characters, to tell it apart
    created_at: datetime
    last_used_at: datetime | None


class TokenIn(BaseModel):
    name: str = Field("", max_length=100, pattern=r"^[^\x00]*$")


class TokenIssued(TokenOut):
    token: str  # shown this once: only its hash is kept
    submit_command: str  # ready for this server


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=200)
    new_password: str = Field(max_length=200)


class GradebookAssignment(BaseModel):
    slug: str
    title: str
    max_score: float


class GradebookRowOut(BaseModel):
    username: str
    display_name: str
    scores: dict[str, float | None]  # by assignment slug; null: nothing counted
    total: float


class GradebookOut(BaseModel):
    assignments: list[GradebookAssignment]
    rows: list[GradebookRowOut]
