"""Where rows came from (the import that last wrote them), the city's bonuses and
deductions in town scores, and each town's weight in cadre dispatch.

Existing towns get a weight of 1.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 04:05:23.741210
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gongjian.db_types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


IMPORTED = (
    "commitments",
    "enterprises",
    "leases",
    "monitoring_points",
    "parcels",
    "projects",
    "rivers",
)
"""Tables whose rows an Excel task list may write."""


def upgrade() -> None:
    op.create_table(
        "score_adjustments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("campaign", sa.String(length=10), nullable=False),
        sa.Column(
            "points",
            gongjian.db_types.Exact(precision=6, scale=2),
            nullable=False,
            comment="added to the score; negative for a deduction",
        ),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column(
            "entered_on", sa.Date(), nullable=False, comment="day it was decided (city time)"
        ),
        sa.Column(
            "entered_by", sa.String(length=60), nullable=False, comment="username that entered it"
        ),
        sa.Column("created_at", gongjian.db_types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "campaign IN ('renewal', 'water')", name=op.f("ck_score_adjustments_campaign_valid")
        ),
        sa.ForeignKeyConstraint(
            ["town_id"], ["towns.id"], name=op.f("fk_score_adjustments_town_id_towns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_adjustments")),
    )
    with op.batch_alter_table("score_adjustments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_score_adjustments_town_id"), ["town_id"], unique=False)
    for table in IMPORTED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "import_id",
                    sa.Integer(),
                    nullable=True,
                    comment="the import that last wrote it",
                )
            )
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_import_id_imports"), "imports", ["import_id"], ["id"]
            )
    # 1.00 as the column holds it: a scaled integer on SQLite, a numeric elsewhere.
    one = "100" if op.get_bind().dialect.name == "sqlite" else "1"
    with op.batch_alter_table("towns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "pressure_weight",
                gongjian.db_types.Exact(precision=6, scale=2),
                nullable=False,
                server_default=sa.text(one),
                comment="the city's weight of this town's pressure in cadre dispatch (下派干部)",
            )
        )
        batch_op.create_check_constraint(
            "pressure_weight_non_negative",
            sa.text("pressure_weight IS NULL OR pressure_weight >= 0"),
        )
    with op.batch_alter_table("towns", schema=None) as batch_op:
        batch_op.alter_column("pressure_weight", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("towns", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_towns_pressure_weight_non_negative"), type_="check")
        batch_op.drop_column("pressure_weight")
    for table in reversed(IMPORTED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_import_id_imports"), type_="foreignkey"
            )
            batch_op.drop_column("import_id")
    with op.batch_alter_table("score_adjustments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_score_adjustments_town_id"))
    op.drop_table("score_adjustments")
