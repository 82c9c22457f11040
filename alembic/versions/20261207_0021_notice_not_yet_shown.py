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


def upgrade() -> None:
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.alter_column('notice_version', existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table('booking_change', schema=None) as batch_op:
        batch_op.alter_column('notice_version', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # A booking never shown the notice gets version 1 back (the old schema could not say so).
    op.execute("UPDATE booking SET notice_version = 1 WHERE notice_version IS NULL")
    op.execute("UPDATE booking_change SET notice_version = 1 WHERE notice_version IS NULL")
    with op.batch_alter_table('booking_change', schema=None) as batch_op:
        batch_op.alter_column('notice_version', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.alter_column('notice_version', existing_type=sa.Integer(), nullable=False)
