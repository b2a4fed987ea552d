"""similarity: archives of earlier handins, fingerprinted documents, similar pairs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "similarity_archives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("blob_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued", "indexing", "done", "error", name="archivestatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("handins_total", sa.Integer(), nullable=True),
        sa.Column("handins_indexed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["blob_sha256"],
            ["blobs.sha256"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("similarity_archives", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_similarity_archives_assignment_id"), ["assignment_id"], unique=False
        )

    op.create_table(
        "similarity_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("archive_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("blob_sha256", sa.String(length=64), nullable=False),
        sa.Column("fingerprint_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["archive_id"], ["similarity_archives.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["blob_sha256"],
            ["blobs.sha256"],
        ),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("assignment_id", "user_id"),
    )
    with op.batch_alter_table("similarity_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_similarity_documents_archive_id"), ["archive_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_similarity_documents_assignment_id"), ["assignment_id"], unique=False
        )

    op.create_table(
        "similarity_fingerprints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("hash", sa.BigInteger(), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("first_line", sa.Integer(), nullable=False),
        sa.Column("last_line", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["similarity_documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("similarity_fingerprints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_similarity_fingerprints_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(
            "ix_similarity_fingerprints_hash_document", ["hash", "document_id"], unique=False
        )

    op.create_table(
        "similarity_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("document_a_id", sa.Integer(), nullable=False),
        sa.Column("document_b_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("shared", sa.Integer(), nullable=False),
        sa.Column("fraction_a", sa.Float(), nullable=False),
        sa.Column("fraction_b", sa.Float(), nullable=False),
        sa.Column("lines_a", sa.Integer(), nullable=False),
        sa.Column("lines_b", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["document_a_id"], ["similarity_documents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["document_b_id"], ["similarity_documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("document_a_id", "document_b_id"),
    )
    with op.batch_alter_table("similarity_pairs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_similarity_pairs_assignment_id"), ["assignment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_similarity_pairs_document_a_id"), ["document_a_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_similarity_pairs_document_b_id"), ["document_b_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_similarity_pairs_score"), ["score"], unique=False)


def downgrade() -> None:
    for table in (
        "similarity_pairs",
        "similarity_fingerprints",
        "similarity_documents",
        "similarity_archives",
    ):
        op.drop_table(table)  # their indexes go with them
