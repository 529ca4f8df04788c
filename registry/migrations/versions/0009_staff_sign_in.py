"""staff sign-in through institutional providers (issue 16)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

- usersession.provider / usersession.second_factor: the provider a session was started through and whether it
  proved a second factor, so the staff sign-in policy can be checked against open sessions.
- staff_sign_in_policy: per OPL, the provider its reviewers and admins must sign in through, and whether it
  must assert a second factor.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.columns

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('usersession', sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=40),
                                           server_default='', nullable=False))
    op.add_column('usersession', sa.Column('second_factor', sa.Boolean(), server_default=sa.false(),
                                           nullable=False))
    op.create_table(
        'staff_sign_in_policy',
        sa.Column('opl_id', sa.Integer(), nullable=False),
        sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('require_second_factor', sa.Boolean(), nullable=False),
        sa.Column('updated_at', core.columns.UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_by_account_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['opl_id'], ['opl.id']),
        sa.ForeignKeyConstraint(['updated_by_account_id'], ['account.id']),
        sa.PrimaryKeyConstraint('opl_id'),
    )


def downgrade() -> None:
    op.drop_table('staff_sign_in_policy')
    with op.batch_alter_table('usersession') as batch:
        batch.drop_column('second_factor')
        batch.drop_column('provider')
