"""report counters, roll tallies, support events that say where

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

- reportdaycount / reportplacecount: the report counters, kept in the same transaction as the support events;
  rebuilt here from the supports already stored.
- rolltally: the Lista Nominal's size per sección of each roll import, written here for the rolls in force.
- support.received_day: the local day a support was received (the reports' day), filled in here.
- supportevent: the place the support stands in after the event, and an index on the event time.
"""
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from core.columns import UtcDateTime

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS = sa.Enum('received', 'verifying', 'in_review', 'valid', 'invalid', 'contested', name='supportstatus',
                  native_enum=False, length=40)
_SITUACION = sa.Enum('sin_verificar', 'en_lista_nominal', 'duplicado_mismo_aspirante', 'duplicado_otro_aspirante',
                     'en_padron_no_en_lista', 'baja', 'datos_no_encontrados', 'fuera_de_ambito',
                     'fuera_regimen_excepcion', 'con_inconsistencia', name='situacionregistral', native_enum=False,
                     length=40)
_PLACE = ('state_code', 'district', 'municipality', 'seccion')


def upgrade() -> None:
    op.create_table(
        'reportdaycount',
        sa.Column('process_id', sa.Integer(), nullable=False),
        sa.Column('aspirant_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('status', _STATUS, nullable=False),
        sa.Column('situacion', _SITUACION, nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('process_id', 'aspirant_id', 'day', 'status', 'situacion'),
    )
    op.create_table(
        'reportplacecount',
        sa.Column('process_id', sa.Integer(), nullable=False),
        sa.Column('aspirant_id', sa.Integer(), nullable=False),
        sa.Column('status', _STATUS, nullable=False),
        sa.Column('situacion', _SITUACION, nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _PLACE),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('process_id', 'aspirant_id', 'status', 'situacion', *_PLACE),
    )
    op.create_table(
        'rolltally',
        sa.Column('roll_import_id', sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _PLACE),
        sa.Column('vigentes', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('roll_import_id', *_PLACE),
    )
    with op.batch_alter_table('support', schema=None) as batch_op:
        batch_op.add_column(sa.Column('received_day', sa.Date(), nullable=True))
    with op.batch_alter_table('supportevent', schema=None) as batch_op:
        for name in _PLACE:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))
        batch_op.create_index('ix_supportevent_at', ['at'], unique=False)
    _fill_received_days()
    _fill_tallies()
    _recount()


def _fill_received_days() -> None:
    connection = op.get_bind()
    support = sa.table('support', sa.column('id', sa.Integer()), sa.column('process_id', sa.Integer()),
                       sa.column('received_at', UtcDateTime()), sa.column('received_day', sa.Date()))
    zones = dict(connection.execute(sa.text("SELECT id, timezone FROM process")).all())
    rows = connection.execute(sa.select(support.c.id, support.c.process_id, support.c.received_at)).all()
    updates = [{"row_id": row_id, "day": at.astimezone(ZoneInfo(zones[process])).date()}
               for row_id, process, at in rows]
    if updates:
        connection.execute(support.update().where(support.c.id == sa.bindparam("row_id"))
                           .values(received_day=sa.bindparam("day")), updates)


def _fill_tallies() -> None:
    op.execute("INSERT INTO rolltally (roll_import_id, state_code, district, municipality, seccion, vigentes) "
               "SELECT e.roll_import_id, e.state_code, e.district, e.municipality, e.seccion, count(*) "
               "FROM rollentry AS e JOIN rollimport AS r ON r.id = e.roll_import_id AND r.state = 'current' "
               "WHERE e.status = 'vigente' GROUP BY e.roll_import_id, e.state_code, e.district, e.municipality, "
               "e.seccion")


def _recount() -> None:
    op.execute("INSERT INTO reportdaycount (process_id, aspirant_id, day, status, situacion, n) "
               "SELECT process_id, aspirant_id, received_day, status, situacion_registral, count(*) FROM support "
               "GROUP BY process_id, aspirant_id, received_day, status, situacion_registral")
    place = ", ".join(f"COALESCE({name}, 0)" for name in _PLACE)
    op.execute(f"INSERT INTO reportplacecount (process_id, aspirant_id, status, situacion, {', '.join(_PLACE)}, n) "
               f"SELECT process_id, aspirant_id, status, situacion_registral, {place}, count(*) FROM support "
               f"GROUP BY process_id, aspirant_id, status, situacion_registral, {place}")


def downgrade() -> None:
    with op.batch_alter_table('supportevent', schema=None) as batch_op:
        batch_op.drop_index('ix_supportevent_at')
        for name in _PLACE:
            batch_op.drop_column(name)
    with op.batch_alter_table('support', schema=None) as batch_op:
        batch_op.drop_column('received_day')
    op.drop_table('rolltally')
    op.drop_table('reportplacecount')
    op.drop_table('reportdaycount')
