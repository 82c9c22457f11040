"""Migrations build the schema, revert cleanly and match the models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect

from registry import migrations
from registry.config import Settings
from registry.db import engine_for, metadata


@pytest.fixture
def scratch_url(tmp_path: Path, settings: Settings) -> str:
    """A database of its own: the test DB is shared by the rest of the suite."""
    if settings.database_url.startswith("postgresql"):
        pytest.skip("covered on SQLite; on PostgreSQL the session DB runs the same migrations")
    return f"sqlite:///{tmp_path / 'scratch.db'}"


def test_upgrade_downgrade_upgrade(scratch_url: str) -> None:
    migrations.upgrade(scratch_url)
    engine = engine_for(scratch_url)
    assert {"staff_user", "audit_entry", "audit_head"} <= set(inspect(engine).get_table_names())
    assert migrations.is_at_head(scratch_url)
    migrations.downgrade(scratch_url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(scratch_url)
    assert migrations.is_at_head(scratch_url)
    assert migrations.drift(scratch_url) == []


def test_models_match_migrations_on_the_test_database(
    settings: Settings, engine: sa.Engine
) -> None:
    assert migrations.drift(settings.database_url) == []


def test_drift_is_detected_when_a_model_changes(scratch_url: str) -> None:
    migrations.upgrade(scratch_url)
    extra = sa.Table("unmigrated_thing", metadata, sa.Column("id", sa.Integer, primary_key=True))
    try:
        diffs = migrations.drift(scratch_url)
    finally:
        metadata.remove(extra)
    assert any("unmigrated_thing" in str(d) for d in diffs)


def test_every_constraint_has_a_convention_name() -> None:
    for table in metadata.tables.values():
        for constraint in table.constraints:
            assert constraint.name, f"{table.name}: unnamed {type(constraint).__name__}"
    assert os.environ["REGISTRY_ENV"] == "test"
