"""Parcels' yearly figures and construction milestones; the plan's comment period.

A parcel's output and tax per mu and its floor-area ratio change every year, and
identification (低效认定) is made per year, so they move from ``parcels`` to
``parcel_performance`` (one row per parcel and year). Figures held in the old columns
are kept as the parcel's row of the year it was last changed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 03:25:09.521438
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gongjian.db_types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


MOVED = ("output_per_mu", "tax_per_mu", "far_before", "far_after")


def _year(column: str) -> str:
    """SQL for the calendar year of a timestamp column, on SQLite and PostgreSQL."""
    if op.get_bind().dialect.name == "sqlite":
        return f"CAST(strftime('%Y', {column}) AS INTEGER)"
    return f"CAST(EXTRACT(YEAR FROM {column}) AS INTEGER)"


def upgrade() -> None:
    op.create_table(
        "construction_milestones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parcel_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column(
            "area_m2",
            gongjian.db_types.Exact(precision=12, scale=2),
            nullable=False,
            comment="floor area covered, m²",
        ),
        sa.Column("happened_on", sa.Date(), nullable=False),
        sa.Column(
            "actor", sa.String(length=60), nullable=False, comment="username that recorded it"
        ),
        sa.Column("recorded_at", gongjian.db_types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('planning_application', 'construction_permit', 'completion_acceptance')",
            name=op.f("ck_construction_milestones_kind_valid"),
        ),
        sa.CheckConstraint(
            "area_m2 IS NULL OR area_m2 >= 0",
            name=op.f("ck_construction_milestones_area_m2_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["parcel_id"],
            ["parcels.id"],
            name=op.f("fk_construction_milestones_parcel_id_parcels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_construction_milestones")),
    )
    with op.batch_alter_table("construction_milestones", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_construction_milestones_parcel_id"), ["parcel_id"], unique=False
        )

    op.create_table(
        "parcel_performance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parcel_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column(
            "output_per_mu",
            gongjian.db_types.Exact(precision=12, scale=2),
            nullable=True,
            comment="亩均产值, 万元 per mu in the year",
        ),
        sa.Column(
            "tax_per_mu",
            gongjian.db_types.Exact(precision=12, scale=2),
            nullable=True,
            comment="亩均税收, 万元 per mu in the year",
        ),
        sa.Column(
            "floor_area_ratio",
            gongjian.db_types.Exact(precision=6, scale=2),
            nullable=True,
            comment="容积率: floor area ÷ land area",
        ),
        sa.CheckConstraint(
            "floor_area_ratio IS NULL OR floor_area_ratio >= 0",
            name=op.f("ck_parcel_performance_floor_area_ratio_non_negative"),
        ),
        sa.CheckConstraint(
            "output_per_mu IS NULL OR output_per_mu >= 0",
            name=op.f("ck_parcel_performance_output_per_mu_non_negative"),
        ),
        sa.CheckConstraint(
            "tax_per_mu IS NULL OR tax_per_mu >= 0",
            name=op.f("ck_parcel_performance_tax_per_mu_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["parcel_id"],
            ["parcels.id"],
            name=op.f("fk_parcel_performance_parcel_id_parcels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parcel_performance")),
        sa.UniqueConstraint("parcel_id", "year", name=op.f("uq_parcel_performance_parcel_id_year")),
    )
    op.execute(
        "INSERT INTO parcel_performance (parcel_id, year, output_per_mu, tax_per_mu,"
        " floor_area_ratio) SELECT id, " + _year("updated_at") + ", output_per_mu, tax_per_mu,"
        " coalesce(far_after, far_before) FROM parcels WHERE output_per_mu IS NOT NULL"
        " OR tax_per_mu IS NOT NULL OR far_before IS NOT NULL OR far_after IS NOT NULL"
    )
    with op.batch_alter_table("parcels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=120), nullable=True))
        batch_op.add_column(
            sa.Column(
                "plan_comment_until",
                sa.Date(),
                nullable=True,
                comment="last day of the published plan's comment period (公示期)",
            )
        )
        for column in MOVED:
            batch_op.drop_constraint(op.f(f"ck_parcels_{column}_non_negative"), type_="check")
            batch_op.drop_column(column)


def downgrade() -> None:
    with op.batch_alter_table("parcels", schema=None) as batch_op:
        for column, places in zip(MOVED, (12, 12, 6, 6), strict=True):
            batch_op.add_column(
                sa.Column(column, gongjian.db_types.Exact(precision=places, scale=2), nullable=True)
            )
            batch_op.create_check_constraint(
                f"{column}_non_negative", sa.text(f"{column} IS NULL OR {column} >= 0")
            )
        batch_op.drop_column("plan_comment_until")
        batch_op.drop_column("name")

    op.drop_table("parcel_performance")
    with op.batch_alter_table("construction_milestones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_construction_milestones_parcel_id"))

    op.drop_table("construction_milestones")
