"""Assessments (one grading of one period), river surveys, monitoring stations' tokens.

Grades now name the assessment that made them. No grade existed before this revision
(grading arrives with it), so the new ``assessment_id`` columns can be NOT NULL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:19:44.674243
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gongjian.db_types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False, comment="2023-01 or 2023-W05"),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column(
            "samples", sa.Integer(), nullable=False, comment="samples of the period it graded"
        ),
        sa.Column(
            "last_sample_id",
            sa.BigInteger(),
            nullable=True,
            comment="largest sample id it saw: a larger one arrived late",
        ),
        sa.Column("rules_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "warnings",
            sa.JSON(),
            nullable=False,
            comment='{"warnings": [{"river": code, "rule": ..., "message": ...}]}',
        ),
        sa.Column("assessed_at", gongjian.db_types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("superseded_at", gongjian.db_types.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "samples IS NULL OR samples >= 0", name=op.f("ck_assessments_samples_non_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.create_index("ix_assessments_period", ["period"], unique=False)

    op.create_table(
        "station_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False, comment="the station's name"),
        sa.Column(
            "prefix", sa.String(length=12), nullable=False, comment="first characters of the token"
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False, comment="SHA-256 of it"),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("created_at", gongjian.db_types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", gongjian.db_types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", gongjian.db_types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_station_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_station_tokens_token_hash")),
    )
    op.create_table(
        "river_surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("river_id", sa.Integer(), nullable=False),
        sa.Column("surveyed_on", sa.Date(), nullable=False),
        sa.Column("valid_questionnaires", sa.Integer(), nullable=False),
        sa.Column("satisfied", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.String(length=60), nullable=False),
        sa.Column("recorded_at", gongjian.db_types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "satisfied <= valid_questionnaires",
            name=op.f("ck_river_surveys_satisfied_within_valid"),
        ),
        sa.CheckConstraint(
            "satisfied IS NULL OR satisfied >= 0",
            name=op.f("ck_river_surveys_satisfied_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["river_id"], ["rivers.id"], name=op.f("fk_river_surveys_river_id_rivers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_river_surveys")),
    )
    with op.batch_alter_table("river_surveys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_river_surveys_river_id"), ["river_id"], unique=False)

    op.create_table(
        "station_token_points",
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["point_id"],
            ["monitoring_points.id"],
            name=op.f("fk_station_token_points_point_id_monitoring_points"),
        ),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["station_tokens.id"],
            name=op.f("fk_station_token_points_token_id_station_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", "point_id", name=op.f("pk_station_token_points")),
    )
    with op.batch_alter_table("point_grades", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assessment_id", sa.Integer(), nullable=False))
        batch_op.create_index(
            batch_op.f("ix_point_grades_assessment_id"), ["assessment_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_point_grades_assessment_id_assessments"),
            "assessments",
            ["assessment_id"],
            ["id"],
        )

    with op.batch_alter_table("water_body_grades", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assessment_id", sa.Integer(), nullable=False))
        batch_op.create_index(
            batch_op.f("ix_water_body_grades_assessment_id"), ["assessment_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_water_body_grades_assessment_id_assessments"),
            "assessments",
            ["assessment_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("water_body_grades", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_water_body_grades_assessment_id_assessments"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_water_body_grades_assessment_id"))
        batch_op.drop_column("assessment_id")

    with op.batch_alter_table("point_grades", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_point_grades_assessment_id_assessments"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_point_grades_assessment_id"))
        batch_op.drop_column("assessment_id")

    op.drop_table("station_token_points")
    with op.batch_alter_table("river_surveys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_river_surveys_river_id"))

    op.drop_table("river_surveys")
    op.drop_table("station_tokens")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index("ix_assessments_period")

    op.drop_table("assessments")
