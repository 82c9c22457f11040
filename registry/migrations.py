"""Alembic, driven from code: upgrade, downgrade, current revision and drift against the models."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from registry.config import ROOT_DIR
from registry.db import engine_for, metadata
from registry.models import ALL_TABLES

# Importing the models registers every table on the metadata that drift() compares.
TABLES = ALL_TABLES


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT_DIR / "alembic"))
    # Alembic reads this with ConfigParser interpolation; '%' in passwords must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_at_head(url: str) -> bool:
    return current_revision(engine_for(url)) == head_revision()


def drift(url: str) -> list[Any]:
    """Differences between the models and the migrated database (empty when they agree)."""
    with engine_for(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))
