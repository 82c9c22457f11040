"""Objections explained and decided by staff: an attendee not found in a photo says how to find
them; staff uphold an objection or dismiss it with a reason (a dismissed one stops counting).
Existing objections are pending (they count, as they did).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 16:41:32.030865
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


import registry.db

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('media_objection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('explanation', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(
            sa.Column('decision', sa.String(length=12), nullable=False, server_default='pending')
        )
        batch_op.add_column(sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))
        batch_op.add_column(sa.Column('decided_at', registry.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('decision_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True))
        batch_op.create_index(batch_op.f('ix_media_objection_decision'), ['decision'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('media_objection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_objection_decision'))
        batch_op.drop_column('decision_reason')
        batch_op.drop_column('decided_at')
        batch_op.drop_column('decided_by')
        batch_op.drop_column('decision')
        batch_op.drop_column('explanation')

