"""Opening the control database and bringing its schema to the latest Alembic revision."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from connectors.sql import enable_sqlite_foreign_keys

MIGRATIONS = Path(__file__).parent / "migrations"


@cache
def engine_for(url: str) -> Engine:
    """One migrated engine per URL and process."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, hide_parameters=True)  # errors never quote identifiers
    enable_sqlite_foreign_keys(engine)
    upgrade(engine)
    return engine


def upgrade(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)
