"""hidden instances and jobs that end: each assignment's grading secret, from which the graded
instances are drawn; how many times the sweeper sent a submission's job again

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("assignments", sa.Column("grading_secret", sa.String(length=64), nullable=True))
    assignments = sa.table("assignments", sa.column("id", sa.Integer), sa.column("grading_secret", sa.String))
    connection = op.get_bind()
    for (assignment_id,) in connection.execute(sa.select(assignments.c.id)).all():
        connection.execute(
            assignments.update()
            .where(assignments.c.id == assignment_id)
            .values(grading_secret=secrets.token_hex(32))  # a secret of its own for each
        )
    with op.batch_alter_table("assignments") as batch:
        batch.alter_column("grading_secret", existing_type=sa.String(length=64), nullable=False)
    op.add_column("submissions", sa.Column("sweeps", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("submissions") as batch:
        batch.alter_column("sweeps", existing_type=sa.Integer(), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("sweeps")
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("grading_secret")
