"""A video's redaction is a job in parts: a rendition has a status (existing ones are ready), a
progress, a lease, what to cover and its pass; rendition_part holds each part's lease and file.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 19:09:35.090159
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


import registry.db

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rendition_part',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rendition_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('start_s', sa.Float(), nullable=False),
    sa.Column('end_s', sa.Float(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', registry.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['rendition_id'], ['rendition.id'], name=op.f('fk_rendition_part_rendition_id_rendition')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rendition_part')),
    sa.UniqueConstraint('rendition_id', 'number', name=op.f('uq_rendition_part_rendition_id_number'))
    )
    with op.batch_alter_table('rendition_part', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rendition_part_rendition_id'), ['rendition_id'], unique=False)

    with op.batch_alter_table('rendition', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('status', sa.String(length=12), nullable=False, server_default='ready')
        )
        batch_op.add_column(sa.Column('progress', sa.Float(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('failure', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('lease_until', registry.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('covers', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('passes', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index(batch_op.f('ix_rendition_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('rendition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rendition_status'))
        batch_op.drop_column('passes')
        batch_op.drop_column('covers')
        batch_op.drop_column('attempts')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('failure')
        batch_op.drop_column('progress')
        batch_op.drop_column('status')

    with op.batch_alter_table('rendition_part', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rendition_part_rendition_id'))

    op.drop_table('rendition_part')
