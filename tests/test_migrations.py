"""Migrations build the schema, revert cleanly and match the models."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from registry import migrations
from registry.config import Settings
from registry.db import engine_for, metadata
from tests.required import missing


@pytest.fixture
def scratch_url(tmp_path: Path, settings: Settings) -> Iterator[str]:
    """A database of its own (the test DB is shared by the rest of the suite)."""
    if not settings.database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    url = make_url(settings.database_url)
    name = f"{url.database}_scratch_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.ProgrammingError as exc:
        missing(f"cannot create a scratch PostgreSQL database: {exc.orig}")
    scratch = url.set(database=name).render_as_string(hide_password=False)
    try:
        yield scratch
    finally:
        engine_for(scratch).dispose()
        engine_for.cache_clear()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


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


def test_the_append_only_tables_keep_their_guards_through_every_migration(
    scratch_url: str,
) -> None:
    """A migration that rebuilds a table (SQLite's batch mode) must not drop the triggers that
    make it append-only: after upgrade, down to 0020 and up again, they are all there."""
    migrations.upgrade(scratch_url)
    migrations.downgrade(scratch_url, "0020")
    migrations.upgrade(scratch_url)
    engine = engine_for(scratch_url)
    query = (
        "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"
        if engine.dialect.name == "sqlite"
        else "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal"
    )
    with engine.connect() as connection:
        found = {(row[0], row[1]) for row in connection.execute(sa.text(query))}
    assert {("booking_change", "booking_change_no_update")} <= found, sorted(found)
    assert {("booking_change", "booking_change_no_delete")} <= found, sorted(found)
    for table in ("consent_event", "audit_entry"):
        assert any(on == table for on, _name in found), (table, sorted(found))
