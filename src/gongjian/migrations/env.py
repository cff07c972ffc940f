"""Alembic environment: runs migrations on a connection the caller gives, or on the
configured database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import gongjian.models
from gongjian.db import make_engine

target_metadata = gongjian.models.Base.metadata


def run_migrations_online() -> None:
    """Run on ``config.attributes['connection']`` if given, else on a new engine."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or None
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported: run `gongjian init`")
run_migrations_online()
