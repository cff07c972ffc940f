"""Running the Alembic migrations from code (``gongjian init``, tests)."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def alembic_config() -> Config:
    """Alembic's configuration, pointing at the migrations inside the package."""
    config = Config()
    config.set_main_option("script_location", "gongjian:migrations")
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema of ``engine``'s database to ``revision``."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade_all(engine: Engine) -> None:
    """Drop every table the migrations made (``gongjian demo --reset``).

    SQLite checks foreign keys on ``DROP TABLE`` too (a table dropped with rows still
    referring to it fails), and rebuilds tables to alter them; its foreign keys are off
    while the tables go (the pragma takes effect only outside a transaction), and on
    again after."""
    config = alembic_config()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        driver: Any = connection.connection.driver_connection
        if sqlite:
            driver.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.downgrade(config, "base")
        finally:
            if sqlite:
                driver.execute("PRAGMA foreign_keys=ON")
