"""Alembic environment: runs migrations on a connection the caller gives, or on the
configured database."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

import gongjian.models
from gongjian.db import PER_STATEMENT, make_engine

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
    postgresql = connection.dialect.name == "postgresql"

    def include_object(
        item: Any, _name: str | None, type_: str, reflected: bool, _compare_to: Any
    ) -> bool:
        """Leave out of ``alembic check`` the foreign keys PostgreSQL keeps by triggers."""
        per_statement = type_ == "foreign_key_constraint" and item.info.get(PER_STATEMENT)
        return not (postgresql and not reflected and per_statement)

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported: run `gongjian init`")
run_migrations_online()
