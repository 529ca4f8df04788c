"""mesa de control, paper supports and objections

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

- inconsistencytype: one catalogue per OPL (id key, unique per OPL and code) with a double-check mark;
  reviewdecision: level, the inconsistency by id, the double-check state. Both tables are re-created: before
  this revision no desk existed, so no decision was ever written, and the default catalogue is seeded per OPL
  by `registro migrate` (registry.catalogue).
- supportflag (why a support waits for a reviewer), reviewclaim (who holds an item until when), paperform and
  paperimport (paper supports typed or imported from a file).
- process: review sample, capture pace, objection period; credentialreading: indexes the flags look up.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.columns

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=40)


def upgrade() -> None:
    _catalogue_and_decisions()
    _new_tables()
    with op.batch_alter_table('credentialreading', schema=None) as batch_op:
        batch_op.create_index('ix_credentialreading_back_image', ['back_image_id'], unique=False)
        batch_op.create_index('ix_credentialreading_qr_text', ['qr_text'], unique=False)
    op.create_index('ix_support_auxiliary_captured', 'support', ['auxiliary_id', 'captured_at'], unique=False)
    with op.batch_alter_table('process', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_sample_percent', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('capture_interval_seconds', sa.Integer(), nullable=False,
                                      server_default='30'))
        batch_op.add_column(sa.Column('objections_open_at', core.columns.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('objections_close_at', core.columns.UtcDateTime(timezone=True), nullable=True))


def _catalogue_and_decisions() -> None:
    op.drop_table('reviewdecision')
    op.drop_table('inconsistencytype')
    op.create_table(
        'inconsistencytype',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('opl_id', sa.Integer(), nullable=False),
        sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('label_es', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('label_en', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('requires_comment', sa.Boolean(), nullable=False),
        sa.Column('double_check', sa.Boolean(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('sort_order', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['opl_id'], ['opl.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('opl_id', 'code', name='uq_inconsistencytype_opl_code'),
    )
    op.create_index('ix_inconsistencytype_opl_id', 'inconsistencytype', ['opl_id'], unique=False)
    op.create_table(
        'reviewdecision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('support_id', sa.Integer(), nullable=False),
        sa.Column('reviewer_account_id', sa.Integer(), nullable=True),
        sa.Column('level', _enum('reviewlevel', 'first', 'second'), nullable=False),
        sa.Column('outcome', _enum('reviewoutcome', 'valid', 'invalid'), nullable=False),
        sa.Column('inconsistency_id', sa.Integer(), nullable=True),
        sa.Column('comment', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column('second_look', _enum('secondlook', 'pending', 'confirmed', 'reversed'), nullable=True),
        sa.Column('decided_at', core.columns.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['inconsistency_id'], ['inconsistencytype.id'], ),
        sa.ForeignKeyConstraint(['reviewer_account_id'], ['account.id'], ),
        sa.ForeignKeyConstraint(['support_id'], ['support.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_reviewdecision_support_id', 'reviewdecision', ['support_id'], unique=False)
    op.create_index('ix_reviewdecision_second_look', 'reviewdecision', ['second_look'], unique=False)


def _new_tables() -> None:
    op.create_table('paperimport',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('aspirant_id', sa.Integer(), nullable=False),
    sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('rows_added', sa.Integer(), nullable=False),
    sa.Column('rows_already_present', sa.Integer(), nullable=False),
    sa.Column('imported_by_account_id', sa.Integer(), nullable=True),
    sa.Column('imported_at', core.columns.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['aspirant_id'], ['aspirant.id'], ),
    sa.ForeignKeyConstraint(['imported_by_account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('paperimport', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_paperimport_aspirant_id'), ['aspirant_id'], unique=False)

    op.create_table('paperform',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('support_id', sa.Integer(), nullable=False),
    sa.Column('aspirant_id', sa.Integer(), nullable=False),
    sa.Column('numero_referencia', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('nombre', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('apellido_paterno', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('apellido_materno', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('inconsistency_id', sa.Integer(), nullable=True),
    sa.Column('comentario', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('form_image_id', sa.Integer(), nullable=True),
    sa.Column('paper_import_id', sa.Integer(), nullable=True),
    sa.Column('captured_by_account_id', sa.Integer(), nullable=True),
    sa.Column('created_at', core.columns.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['aspirant_id'], ['aspirant.id'], ),
    sa.ForeignKeyConstraint(['captured_by_account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['form_image_id'], ['storedimage.id'], ),
    sa.ForeignKeyConstraint(['inconsistency_id'], ['inconsistencytype.id'], ),
    sa.ForeignKeyConstraint(['paper_import_id'], ['paperimport.id'], ),
    sa.ForeignKeyConstraint(['support_id'], ['support.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('aspirant_id', 'numero_referencia', name='uq_paperform_reference'),
    sa.UniqueConstraint('support_id')
    )
    with op.batch_alter_table('paperform', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_paperform_paper_import_id'), ['paper_import_id'], unique=False)

    op.create_table('reviewclaim',
    sa.Column('support_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('reviewer_account_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Enum('first', 'second', name='reviewlevel', native_enum=False, length=40), nullable=False),
    sa.Column('claimed_at', core.columns.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', core.columns.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reviewer_account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['support_id'], ['support.id'], ),
    sa.PrimaryKeyConstraint('support_id')
    )
    with op.batch_alter_table('reviewclaim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reviewclaim_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reviewclaim_reviewer_account_id'), ['reviewer_account_id'], unique=False)

    op.create_table('supportflag',
    sa.Column('support_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('flag', sa.Enum('manual_capture', 'image_reused', 'capture_rate', 'device_time', 'qr_other_cic', 'disowned', 'claimed', 'sample', name='reviewflag', native_enum=False, length=40), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('at', core.columns.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['support_id'], ['support.id'], ),
    sa.PrimaryKeyConstraint('support_id', 'flag')
    )


def downgrade() -> None:
    raise NotImplementedError("0003 re-creates the catalogue and decision tables: restore a backup to go back")
