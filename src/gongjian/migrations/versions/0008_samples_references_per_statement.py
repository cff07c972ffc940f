"""Samples keyed by their natural key, their references checked once per statement.

A bulk load copies a million samples in one ``COPY``; what each row costs the database
decides its speed. Two changes:

- A sample is known by its point and instant, its natural key, which becomes its primary
  key; the surrogate ``id`` goes (a sequence call and a second index entry per row, and
  nothing refers to it). An assessment no longer notes the largest sample id it saw:
  samples are never changed or removed, so a period's count of samples grows with each
  late arrival, and the count alone tells that the period must be graded again.
- PostgreSQL's foreign keys check each row on its own (a trigger per row and per key),
  which took two thirds of the load's time. On PostgreSQL the two foreign keys of ``samples`` (``point_id`` to
``monitoring_points``, ``import_id`` to ``imports``) become statement-level triggers
that keep the same rule and say it in the same words (SQLSTATE 23503, the constraint's
name, ``Key (…)=(…) is not present``):

- after an INSERT or UPDATE of samples, the distinct points and imports the new rows
  name are read once from the statement's transition table, locked ``FOR KEY SHARE`` (as
  a foreign key locks them, so that no one deletes them before this transaction ends),
  and the statement is refused when one is missing;
- after a DELETE of a point or an import, or a change of its ``id``, the statement is
  refused when a sample still names it (as ``NO ACTION`` does).

SQLite keeps its foreign keys as they are.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POINT_KEY = "fk_samples_point_id_monitoring_points"
IMPORT_KEY = "fk_samples_import_id_imports"


def _lock_or_refuse(ids: str, table: str, column: str, key: str) -> str:
    """PL/pgSQL: lock ``FOR KEY SHARE`` the rows of ``table`` whose ids the array ``ids``
    holds, and refuse the statement as the foreign key ``key`` on ``column`` would when
    one of them is missing."""
    return f"""
    PERFORM FROM {table} t WHERE t.id = ANY ({ids}) FOR KEY SHARE;
    GET DIAGNOSTICS locked = ROW_COUNT;
    IF locked < cardinality({ids}) THEN
        SELECT u.id INTO missing FROM unnest({ids}) u(id)
         WHERE NOT EXISTS (SELECT FROM {table} t WHERE t.id = u.id) LIMIT 1;
        RAISE EXCEPTION 'insert or update on table "samples" violates foreign key constraint "{key}"'
              USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{key}', TABLE = 'samples',
                    DETAIL = format('Key ({column})=(%s) is not present in table "{table}".', missing);
    END IF;"""


CHECK_NEW_SAMPLES = f"""
CREATE FUNCTION samples_check_references() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    point_ids integer[];
    import_ids integer[];
    locked integer;
    missing integer;
BEGIN
    SELECT coalesce(array_agg(DISTINCT d.point_id), '{{}}'),
           coalesce(array_agg(DISTINCT d.import_id) FILTER (WHERE d.import_id IS NOT NULL), '{{}}')
      INTO point_ids, import_ids
      FROM (SELECT DISTINCT n.point_id, n.import_id FROM new_samples n) d;
    {_lock_or_refuse("point_ids", "monitoring_points", "point_id", POINT_KEY)}
    {_lock_or_refuse("import_ids", "imports", "import_id", IMPORT_KEY)}
    RETURN NULL;
END
$$
"""

KEEP_REFERENCED = """
CREATE FUNCTION samples_keep_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    referenced boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT FROM samples WHERE %I = $1)', TG_ARGV[0])
       INTO referenced USING OLD.id;
    IF referenced THEN
        RAISE EXCEPTION 'update or delete on table "%" violates foreign key constraint "%" on table "samples"',
              TG_TABLE_NAME, TG_ARGV[1]
              USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_ARGV[1],
                    TABLE = TG_TABLE_NAME,
                    DETAIL = format('Key (id)=(%s) is still referenced from table "samples".', OLD.id);
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGERS = (
    "CREATE TRIGGER samples_references_on_insert AFTER INSERT ON samples"
    " REFERENCING NEW TABLE AS new_samples FOR EACH STATEMENT"
    " EXECUTE FUNCTION samples_check_references()",
    "CREATE TRIGGER samples_references_on_update AFTER UPDATE ON samples"
    " REFERENCING NEW TABLE AS new_samples FOR EACH STATEMENT"
    " EXECUTE FUNCTION samples_check_references()",
    "CREATE TRIGGER samples_keep_points AFTER DELETE OR UPDATE OF id ON monitoring_points"
    f" FOR EACH ROW EXECUTE FUNCTION samples_keep_referenced('point_id', '{POINT_KEY}')",
    "CREATE TRIGGER samples_keep_imports AFTER DELETE OR UPDATE OF id ON imports"
    f" FOR EACH ROW EXECUTE FUNCTION samples_keep_referenced('import_id', '{IMPORT_KEY}')",
)


def upgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.drop_column("last_sample_id")
    with op.batch_alter_table("samples") as batch:
        batch.drop_constraint("uq_samples_point_id_sampled_at", type_="unique")
        batch.drop_constraint("pk_samples", type_="primary")
        batch.drop_column("id")
        batch.create_primary_key("pk_samples", ["point_id", "sampled_at"])
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_constraint(POINT_KEY, "samples", type_="foreignkey")
    op.drop_constraint(IMPORT_KEY, "samples", type_="foreignkey")
    op.execute(CHECK_NEW_SAMPLES)
    op.execute(KEEP_REFERENCED)
    for trigger in TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER samples_keep_imports ON imports")
        op.execute("DROP TRIGGER samples_keep_points ON monitoring_points")
        op.execute("DROP TRIGGER samples_references_on_update ON samples")
        op.execute("DROP TRIGGER samples_references_on_insert ON samples")
        op.execute("DROP FUNCTION samples_keep_referenced()")
        op.execute("DROP FUNCTION samples_check_references()")
        op.create_foreign_key(POINT_KEY, "samples", "monitoring_points", ["point_id"], ["id"])
        op.create_foreign_key(IMPORT_KEY, "samples", "imports", ["import_id"], ["id"])
        op.execute(
            "ALTER TABLE samples DROP CONSTRAINT pk_samples, ADD COLUMN id bigserial,"
            " ADD CONSTRAINT pk_samples PRIMARY KEY (id),"
            " ADD CONSTRAINT uq_samples_point_id_sampled_at UNIQUE (point_id, sampled_at)"
        )
    else:
        with op.batch_alter_table("samples", recreate="always") as batch:
            batch.drop_constraint("pk_samples", type_="primary")
            batch.add_column(sa.Column("id", sa.Integer(), nullable=False))
            batch.create_primary_key("pk_samples", ["id"])
            batch.create_unique_constraint(
                "uq_samples_point_id_sampled_at", ["point_id", "sampled_at"]
            )
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(
            sa.Column(
                "last_sample_id",
                sa.BigInteger(),
                nullable=True,
                comment="largest sample id it saw: a larger one arrived late",
            )
        )
