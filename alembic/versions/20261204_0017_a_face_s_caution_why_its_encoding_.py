"""A face's caution: why its encoding cannot be trusted to say who it is (turned away, partly
covered); such a face is sent to review further from an opted-out reference than a whole one.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 17:50:21.995956
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


import registry.db

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('media_face', schema=None) as batch_op:
        batch_op.add_column(sa.Column('caution', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('media_face', schema=None) as batch_op:
        batch_op.drop_column('caution')

