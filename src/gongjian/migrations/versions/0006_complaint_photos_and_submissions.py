"""The public portal: the photo a citizen attaches to a complaint (kept in the database,
never served to the public) and the portal's submissions per client address, which the
rate limit counts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 06:15:24.824578
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gongjian.db_types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "complaint_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "client_address",
            sa.String(length=45),
            nullable=False,
            comment="the client's address (the proxy's X-Forwarded-For with trust_proxy)",
        ),
        sa.Column("submitted_at", gongjian.db_types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_submissions")),
    )
    with op.batch_alter_table("complaint_submissions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_complaint_submissions_address_at", ["client_address", "submitted_at"], unique=False
        )

    op.create_table(
        "complaint_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column(
            "content_type",
            sa.String(length=20),
            nullable=False,
            comment="found from the content, not the name or the browser's claim",
        ),
        sa.Column("size_bytes", sa.Integer(), nullable=False, comment="bytes"),
        sa.Column("sha256", sa.String(length=64), nullable=False, comment="of data, hex"),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", gongjian.db_types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png')",
            name=op.f("ck_complaint_photos_content_type_valid"),
        ),
        sa.CheckConstraint(
            "size_bytes IS NULL OR size_bytes >= 0",
            name=op.f("ck_complaint_photos_size_bytes_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_complaint_photos_complaint_id_complaints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_photos")),
        sa.UniqueConstraint("complaint_id", name=op.f("uq_complaint_photos_complaint_id")),
    )


def downgrade() -> None:
    op.drop_table("complaint_photos")
    with op.batch_alter_table("complaint_submissions", schema=None) as batch_op:
        batch_op.drop_index("ix_complaint_submissions_address_at")

    op.drop_table("complaint_submissions")
