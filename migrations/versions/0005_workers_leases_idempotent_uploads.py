"""workers, leases and idempotent uploads: the workers that are up and whether they can confine
handins; a lease on each job being graded; the broker life a job was sent in; the client's
idempotency key of an upload

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("grading", sa.Boolean(), nullable=False),
        sa.Column("confinement", sa.String(length=300), nullable=False),
        sa.Column("weak", sa.Boolean(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_workers_heartbeat_at", "workers", ["heartbeat_at"])
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("sent_epoch", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("idempotency_key", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint(
            "uq_submissions_assignment_id_user_id_idempotency_key",
            ["assignment_id", "user_id", "idempotency_key"],
        )


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_constraint("uq_submissions_assignment_id_user_id_idempotency_key", type_="unique")
        batch.drop_column("lease_expires_at")
        batch.drop_column("idempotency_key")
        batch.drop_column("sent_epoch")
    op.drop_index("ix_workers_heartbeat_at", table_name="workers")
    op.drop_table("workers")
