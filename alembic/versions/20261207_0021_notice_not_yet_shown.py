"""A booking staff made (an import, the API) records no filming notice until it was shown: its
confirmation delivered, or the attendee's private page opened.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _triggers(tables: tuple[str, ...]) -> list[tuple[str, str]]:
    """SQLite's batch mode rebuilds a table and drops its triggers (booking_change is
    append-only by trigger): their names and definitions, to create again afterwards."""
    if op.get_bind().dialect.name != "sqlite":
        return []
    rows = op.get_bind().execute(
        sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
            f"({', '.join(repr(t) for t in tables)})"
        )
    )
    return [(row[0], row[1]) for row in rows if row[1]]


def _restore(kept: list[tuple[str, str]]) -> None:
    """Create again each trigger the rebuild dropped."""
    for name, definition in kept:
        gone = not op.get_bind().execute(
            sa.text("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
            {"name": name},
        ).first()
        if gone:
            op.execute(definition)


def upgrade() -> None:
    kept = _triggers(('booking', 'booking_change'))
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.alter_column('notice_version', existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table('booking_change', schema=None) as batch_op:
        batch_op.alter_column('notice_version', existing_type=sa.Integer(), nullable=True)
    _restore(kept)


def downgrade() -> None:
    # A booking never shown the notice gets version 1 back (the old schema could not say so).
    # booking_change is append-only (no row may change): its column stays nullable.
    op.execute("UPDATE booking SET notice_version = 1 WHERE notice_version IS NULL")
    kept = _triggers(('booking', 'booking_change'))
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.alter_column('notice_version', existing_type=sa.Integer(), nullable=False)
    _restore(kept)
