"""roll import, compulsa and background jobs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

- rollimport: a state (loading, current, superseded, failed) instead of `completed`; one current roll per OPL.
- rollentry: keyed by (import, clave de elector), no surrogate id, the file's line kept. On PostgreSQL the table
  is partitioned by import: an import loads a table of its own with COPY and attaches it at the switch; a
  DEFAULT partition takes rows inserted one by one (demo data, small tests).
- support: what the compulsa found (citizen, geography, detail of the situación registral); no index on a column
  the compulsa writes (HOT updates on PostgreSQL), and pendingverification, the worker's queue of new supports.
- job, rollrejection: new.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLL_COLUMNS = ("roll_import_id, clave_elector, source_line, cic, ocr, identificador_ciudadano, nombre, "
                "apellido_paterno, apellido_materno, state_code, district, municipality, seccion, status, baja_reason")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=40)


def upgrade() -> None:
    _roll_import()
    _roll_entry()
    _support()
    _rejections_and_jobs()


def _roll_import() -> None:
    with op.batch_alter_table('rollimport', schema=None) as batch_op:
        batch_op.add_column(sa.Column('format_label', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('state', _enum('rollimportstate', 'loading', 'current', 'superseded', 'failed'),
                                      nullable=False, server_default='failed'))
        batch_op.add_column(sa.Column('rows_rejected', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('switched_at', sa.DateTime(timezone=True), nullable=True))
    # The latest completed import of each OPL is the one in force; earlier completed ones were replaced by it.
    op.execute("UPDATE rollimport SET state = 'superseded' WHERE completed")
    op.execute("UPDATE rollimport SET state = 'current', switched_at = imported_at WHERE id IN "
               "(SELECT max(id) FROM rollimport WHERE completed GROUP BY opl_id)")
    with op.batch_alter_table('rollimport', schema=None) as batch_op:
        batch_op.drop_column('completed')
        batch_op.create_index('uq_rollimport_current', ['opl_id'], unique=True,
                              postgresql_where=sa.text("state = 'current'"), sqlite_where=sa.text("state = 'current'"))


def _roll_entry() -> None:
    for name in ('ix_rollentry_cic', 'ix_rollentry_clave_elector', 'ix_rollentry_geo', 'ix_rollentry_roll_import_id'):
        op.drop_index(name, table_name='rollentry')
    op.rename_table('rollentry', 'rollentry_v1')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE rollentry_v1 RENAME CONSTRAINT rollentry_pkey TO rollentry_v1_pkey")
        _partitioned_roll_entry()
    else:
        _plain_roll_entry()
    op.create_index('ix_rollentry_cic', 'rollentry', ['cic'], unique=False)
    op.create_index('ix_rollentry_ocr', 'rollentry', ['ocr'], unique=False)
    op.create_index('ix_rollentry_identificador', 'rollentry', ['identificador_ciudadano'], unique=False)
    # Only the roll in force is worth keeping; the rows of replaced imports were never read again.
    op.execute(f"INSERT INTO rollentry ({ROLL_COLUMNS}) SELECT {ROLL_COLUMNS.replace('source_line', '0')} "
               "FROM rollentry_v1 WHERE roll_import_id IN (SELECT id FROM rollimport WHERE state = 'current')")
    op.drop_table('rollentry_v1')


def _partitioned_roll_entry() -> None:
    op.execute("""
        CREATE TABLE rollentry (
            roll_import_id integer NOT NULL,
            clave_elector varchar(18) NOT NULL,
            source_line integer NOT NULL,
            cic varchar(9),
            ocr varchar(13),
            identificador_ciudadano varchar(9),
            nombre varchar(120) NOT NULL,
            apellido_paterno varchar(120) NOT NULL,
            apellido_materno varchar(120) NOT NULL,
            state_code integer NOT NULL,
            district integer NOT NULL,
            municipality integer NOT NULL,
            seccion integer NOT NULL,
            status varchar(40) NOT NULL,
            baja_reason varchar(80),
            CONSTRAINT rollentry_pkey PRIMARY KEY (roll_import_id, clave_elector)
        ) PARTITION BY LIST (roll_import_id)""")
    op.execute("CREATE TABLE rollentry_default PARTITION OF rollentry DEFAULT")


def _plain_roll_entry() -> None:
    op.create_table(
        'rollentry',
        sa.Column('roll_import_id', sa.Integer(), nullable=False, autoincrement=False),
        sa.Column('clave_elector', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column('source_line', sa.Integer(), nullable=False),
        sa.Column('cic', sqlmodel.sql.sqltypes.AutoString(length=9), nullable=True),
        sa.Column('ocr', sqlmodel.sql.sqltypes.AutoString(length=13), nullable=True),
        sa.Column('identificador_ciudadano', sqlmodel.sql.sqltypes.AutoString(length=9), nullable=True),
        sa.Column('nombre', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column('apellido_paterno', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column('apellido_materno', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column('state_code', sa.Integer(), nullable=False),
        sa.Column('district', sa.Integer(), nullable=False),
        sa.Column('municipality', sa.Integer(), nullable=False),
        sa.Column('seccion', sa.Integer(), nullable=False),
        sa.Column('status', _enum('rollstatus', 'vigente', 'padron_sin_lista', 'baja'), nullable=False),
        sa.Column('baja_reason', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.PrimaryKeyConstraint('roll_import_id', 'clave_elector'),
    )


def _support() -> None:
    with op.batch_alter_table('support', schema=None) as batch_op:
        batch_op.add_column(sa.Column('situacion_detail', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('citizen_key', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True))
        batch_op.add_column(sa.Column('state_code', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('district', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('municipality', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('seccion', sa.Integer(), nullable=True))
        batch_op.drop_index('ix_support_aspirant_status')
        batch_op.create_index('ix_support_aspirant', ['aspirant_id'], unique=False)
        batch_op.create_index('ix_support_reading', ['reading_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # Room in each page for the compulsa's in-place (HOT) updates; applies to pages written from now on.
        op.execute("ALTER TABLE support SET (fillfactor = 80)")
    with op.batch_alter_table('credentialreading', schema=None) as batch_op:
        batch_op.create_index('ix_credentialreading_ocr', ['ocr'], unique=False)
        batch_op.create_index('ix_credentialreading_identificador', ['identificador_ciudadano'], unique=False)
    op.create_table(
        'pendingverification',
        sa.Column('support_id', sa.Integer(), nullable=False, autoincrement=False),
        sa.Column('process_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['process_id'], ['process.id'], ),
        sa.ForeignKeyConstraint(['support_id'], ['support.id'], ),
        sa.PrimaryKeyConstraint('support_id'),
    )
    # Nothing reads events by time alone, and every compulsa writes one per support whose category moves.
    with op.batch_alter_table('supportevent', schema=None) as batch_op:
        batch_op.drop_index('ix_supportevent_at')
    op.create_index(op.f('ix_pendingverification_process_id'), 'pendingverification', ['process_id'], unique=False)
    # Supports already received wait for their first compulsa.
    op.execute("INSERT INTO pendingverification (support_id, process_id) SELECT id, process_id FROM support "
               "WHERE status = 'received'")


def _rejections_and_jobs() -> None:
    op.create_table(
        'rollrejection',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('roll_import_id', sa.Integer(), nullable=False),
        sa.Column('line', sa.Integer(), nullable=False),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.ForeignKeyConstraint(['roll_import_id'], ['rollimport.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_rollrejection_roll_import_id'), 'rollrejection', ['roll_import_id'], unique=False)
    op.create_table(
        'job',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', _enum('jobkind', 'roll_import', 'verify'), nullable=False),
        sa.Column('state', _enum('jobstate', 'queued', 'running', 'succeeded', 'failed', 'cancelled'),
                  nullable=False),
        sa.Column('opl_id', sa.Integer(), nullable=False),
        sa.Column('process_id', sa.Integer(), nullable=True),
        sa.Column('roll_import_id', sa.Integer(), nullable=True),
        sa.Column('requested_by_account_id', sa.Integer(), nullable=True),
        sa.Column('input_path', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column('options', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column('progress_done', sa.Integer(), nullable=False),
        sa.Column('progress_total', sa.Integer(), nullable=False),
        sa.Column('rows_seen', sa.Integer(), nullable=False),
        sa.Column('message', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('cancel_requested', sa.Boolean(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['opl_id'], ['opl.id'], ),
        sa.ForeignKeyConstraint(['process_id'], ['process.id'], ),
        sa.ForeignKeyConstraint(['requested_by_account_id'], ['account.id'], ),
        sa.ForeignKeyConstraint(['roll_import_id'], ['rollimport.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_job_state', 'job', ['state', 'id'], unique=False)
    op.create_index(op.f('ix_job_opl_id'), 'job', ['opl_id'], unique=False)


def downgrade() -> None:
    raise NotImplementedError("0002 reshapes the roll; restore from a backup instead of downgrading")
