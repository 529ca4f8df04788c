"""daily reports: which (process, local day) had its morning report queued

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

- dailyreport: one row per process and day, written with the report's e-mails; its key makes a second run of the
  same day (even a concurrent one) send nothing.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.columns

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'dailyreport',
        sa.Column('process_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('messages', sa.Integer(), nullable=False),
        sa.Column('queued_at', core.columns.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['process_id'], ['process.id'], ),
        sa.PrimaryKeyConstraint('process_id', 'day'),
    )


def downgrade() -> None:
    op.drop_table('dailyreport')
