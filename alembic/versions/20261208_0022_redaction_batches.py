"""Redacted copies asked for at once: a redaction batch (an event's flagged photos, or one
attendee's) and, on each rendition, the batch it belongs to.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import registry.db

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('redaction_batch',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('booking_id', sa.Uuid(), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('created_at', registry.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_redaction_batch_booking_id_booking')),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_redaction_batch_event_id_event')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redaction_batch'))
    )
    with op.batch_alter_table('redaction_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redaction_batch_event_id'), ['event_id'], unique=False)

    with op.batch_alter_table('rendition', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_id', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_rendition_batch_id'), ['batch_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_rendition_batch_id_redaction_batch'), 'redaction_batch', ['batch_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('rendition', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_rendition_batch_id_redaction_batch'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_rendition_batch_id'))
        batch_op.drop_column('batch_id')

    with op.batch_alter_table('redaction_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redaction_batch_event_id'))

    op.drop_table('redaction_batch')
