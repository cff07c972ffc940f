"""Record versions: every record people edit carries ``version`` (1 for the rows already
stored), which SQLAlchemy checks and increments on each change so that an edit based on
a stale read is refused; indexes on the audit log for the audit page's filters (by
actor, by record, by time).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The tables of the models that mix in ``gongjian.db.Versioned``.
VERSIONED = (
    "batches",
    "cadres",
    "commitments",
    "enterprises",
    "leases",
    "monitoring_points",
    "parcels",
    "parks",
    "plan_measures",
    "projects",
    "reserve_entries",
    "river_plans",
    "rivers",
    "theme_parks",
    "users",
)


def upgrade() -> None:
    for table in VERSIONED:
        op.add_column(
            table,
            sa.Column(
                "version",
                sa.Integer(),
                server_default=sa.text("1"),
                nullable=False,
                comment="edit counter: 1 when added, +1 on every change",
            ),
        )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entries_actor", ["actor"], unique=False)
        batch_op.create_index(
            "ix_audit_entries_resource_record_id", ["resource", "record_id"], unique=False
        )
        batch_op.create_index("ix_audit_entries_at", ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entries_at")
        batch_op.drop_index("ix_audit_entries_resource_record_id")
        batch_op.drop_index("ix_audit_entries_actor")
    for table in reversed(VERSIONED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("version")
