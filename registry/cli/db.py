"""`registry db ...`: the schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from registry import migrations
from registry.cli.console import err, fail, out
from registry.cli.startup import load_settings, migrate_or_fail
from registry.db import DatabaseUnavailable, check_reachable, get_engine


def upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    settings = load_settings()
    if revision == "head":
        migrate_or_fail(settings)
    else:
        migrations.upgrade(settings.database_url, revision)
    out.print(f"database at {migrations.current_revision(get_engine())}")


def downgrade(revision: Annotated[str, typer.Argument()]) -> None:
    """Revert migrations down to REVISION (e.g. -1 or base)."""
    settings = load_settings()
    migrations.downgrade(settings.database_url, revision)
    out.print(f"database at {migrations.current_revision(get_engine()) or 'base'}")


def check() -> None:
    """Fail when the database is not at head or the models differ from the migrations."""

    settings = load_settings()
    try:
        check_reachable()
    except DatabaseUnavailable as exc:
        fail(str(exc))
    current, head = migrations.current_revision(get_engine()), migrations.head_revision()
    if current != head:
        fail(
            f"database is at {current or 'base'}, migrations end at {head}: "
            "run `registry db upgrade`"
        )
    diffs = migrations.drift(settings.database_url)
    if diffs:
        for diff in diffs:
            err.print(f"  {diff}")
        fail(f"models and migrations differ ({len(diffs)} change(s)); add a migration")
    out.print(f"ok: database at {head}, models match the migrations")
