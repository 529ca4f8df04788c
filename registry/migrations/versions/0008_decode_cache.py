"""the decode cache shared by every worker

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

- decodecache: the server's reading of a back photo and its copy for the store, by (SHA-256 of the upload, day),
  encrypted with the image key, read as absent after `expires_at` and purged lazily; shared by every web worker so
  the field page's instant read and the batch that follows decode once whichever worker takes each.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.columns

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'decodecache',
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('expires_at', core.columns.UtcDateTime(timezone=True), nullable=False),
        sa.Column('payload', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('sha256', 'day'),
    )
    op.create_index(op.f('ix_decodecache_expires_at'), 'decodecache', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_decodecache_expires_at'), table_name='decodecache')
    op.drop_table('decodecache')
