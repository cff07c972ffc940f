"""Web sign-in: server-side sessions (only the hash of each cookie's token is kept) and
failed sign-ins, which the lock-out with back-off reads.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 04:33:19.156833
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gongjian.db_types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "username", sa.String(length=60), nullable=False, comment="as typed; need not exist"
        ),
        sa.Column("at", gongjian.db_types.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "run_length",
            sa.Integer(),
            nullable=False,
            comment="failures in the run this one belongs to, itself included",
        ),
        sa.Column(
            "locked_until",
            gongjian.db_types.UtcDateTime(timezone=True),
            nullable=True,
            comment="when this failure locked the username out, the end of the back-off",
        ),
        sa.Column("remote_addr", sa.String(length=45), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_failures_username_at", ["username", "at"], unique=False)

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "token_hash",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 of the cookie's token (hex)",
        ),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            gongjian.db_types.UtcDateTime(timezone=True),
            nullable=False,
            comment="sign-in",
        ),
        sa.Column(
            "last_seen_at",
            gongjian.db_types.UtcDateTime(timezone=True),
            nullable=False,
            comment="last request (updated at most once a minute)",
        ),
        sa.Column("ended_at", gongjian.db_types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=20), nullable=True),
        sa.Column(
            "remote_addr", sa.String(length=45), nullable=True, comment="client address at sign-in"
        ),
        sa.CheckConstraint(
            "ended_reason IN ('signed_out', 'idle', 'expired', 'disabled', 'ended_by_admin')",
            name=op.f("ck_web_sessions_ended_reason_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_user_id"))

    op.drop_table("web_sessions")
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_failures_username_at")

    op.drop_table("sign_in_failures")
