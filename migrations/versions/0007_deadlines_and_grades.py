"""deadlines and grades a course runs on: the course's time zone and grace days, per-student
extensions, grade release, score overrides and staff comments, the audit of staff changes, and each
submission's standing (late and grace days, score, counted) worked out from the rules in force

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import math
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

DAY_S = 86400.0


def upgrade() -> None:
    op.create_table(
        "course",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "extensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("assignment_id", "user_id"),
    )
    op.create_index("ix_extensions_assignment_id", "extensions", ["assignment_id"])
    op.create_index("ix_extensions_user_id", "extensions", ["user_id"])
    op.create_table(
        "score_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("test", sa.String(length=200), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("submission_id", "test"),
    )
    op.create_index("ix_score_overrides_submission_id", "score_overrides", ["submission_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("student_id", sa.Integer(), nullable=True),
        sa.Column("what", sa.String(length=200), nullable=False),
        sa.Column("old", sa.Text(), nullable=False),
        sa.Column("new", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["student_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("at", "assignment_id", "submission_id", "student_id"):
        op.create_index(f"ix_audit_events_{column}", "audit_events", [column])
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("scores_released", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("grace_days", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("comment", sa.Text(), nullable=False, server_default=""))
        batch.create_index("ix_submissions_assignment_id_counted", ["assignment_id", "counted"])
    with op.batch_alter_table("assignments") as batch:
        batch.alter_column("scores_released", server_default=None)
    with op.batch_alter_table("submissions") as batch:
        for column in ("grace_days", "counted", "comment"):
            batch.alter_column(column, server_default=None)
    op.execute(sa.text("INSERT INTO course (id, time_zone, grace_days) VALUES (1, 'UTC', 0)"))
    backfill()


def backfill() -> None:
    """The standing of the submissions already stored, under the rules of this revision's start: no
    grace days, extensions or overrides yet, so lateness against the due date and the late penalty."""
    bind = op.get_bind()
    rules = {
        row.id: row
        for row in bind.execute(
            sa.text(
                "SELECT id, due_at, late_penalty_per_day, late_penalty_cap, scoring FROM assignments"
            ).columns(due_at=sa.DateTime(timezone=True))
        )
    }
    rows = bind.execute(
        sa.text("SELECT id, assignment_id, user_id, version, created_at, total FROM submissions").columns(
            created_at=sa.DateTime(timezone=True)
        )
    ).all()
    best: dict[tuple[int, int], tuple] = {}
    for row in rows:
        rule = rules[row.assignment_id]
        due, created = aware(rule.due_at), aware(row.created_at)
        seconds = (created - due).total_seconds()
        late = 0 if seconds <= 0 else math.ceil(seconds / DAY_S)
        fraction = rule.late_penalty_per_day * late
        if rule.late_penalty_cap is not None:
            fraction = min(fraction, rule.late_penalty_cap)
        score = None if row.total is None else round(row.total * (1 - max(0.0, min(1.0, fraction))), 4)
        bind.execute(
            sa.text("UPDATE submissions SET late_days = :late, score = :score WHERE id = :id"),
            {"late": late, "score": score, "id": row.id},
        )
        if score is not None:
            rank = (score, row.version) if rule.scoring == "best" else (row.version,)
            key = (row.assignment_id, row.user_id)
            if key not in best or rank > best[key][0]:
                best[key] = (rank, row.id)
    for _, submission_id in best.values():
        bind.execute(sa.text("UPDATE submissions SET counted = true WHERE id = :id"), {"id": submission_id})


def aware(value):
    """SQLite hands back naive datetimes; they are UTC."""
    return value if getattr(value, "tzinfo", None) else value.replace(tzinfo=UTC)


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_index("ix_submissions_assignment_id_counted")
        for column in ("comment", "counted", "score", "grace_days"):
            batch.drop_column(column)
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("scores_released")
    op.drop_table("audit_events")
    op.drop_table("score_overrides")
    op.drop_table("extensions")
    op.drop_table("course")
