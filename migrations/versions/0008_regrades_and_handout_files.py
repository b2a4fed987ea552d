"""regrades and the assignment's files: a regrade's own submissions (its progress counts them only);
the handout and writeup that students download from the assignment page

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "regrades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_regrades_assignment_id", "regrades", ["assignment_id"])
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("regrade_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_submissions_regrade_id_regrades", "regrades", ["regrade_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_submissions_regrade_id", ["regrade_id"])
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("handout_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("writeup_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("writeup_name", sa.String(length=200), nullable=False, server_default=""))
        for column in ("handout_sha256", "writeup_sha256"):
            batch.create_foreign_key(f"fk_assignments_{column}_blobs", "blobs", [column], ["sha256"])
    with op.batch_alter_table("assignments") as batch:
        batch.alter_column("writeup_name", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.drop_constraint("fk_assignments_writeup_sha256_blobs", type_="foreignkey")
        batch.drop_constraint("fk_assignments_handout_sha256_blobs", type_="foreignkey")
        for column in ("writeup_name", "writeup_sha256", "handout_sha256"):
            batch.drop_column(column)
    with op.batch_alter_table("submissions") as batch:
        batch.drop_index("ix_submissions_regrade_id")
        batch.drop_constraint("fk_submissions_regrade_id_regrades", type_="foreignkey")
        batch.drop_column("regrade_id")
    op.drop_index("ix_regrades_assignment_id", table_name="regrades")
    op.drop_table("regrades")
