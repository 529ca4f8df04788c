"""hash-chained audit rows and support events, the chains' heads, the daily report's anchor

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

- auditevent / supportevent: chain_stream, chain_seq, prev_hash, row_hash (registry/audit_chain.py), unique per
  (stream, seq); the rows already stored are chained here, in id order, so every row is covered.
- chainhead: each stream's last seq and hash.
- dailyreport.anchor: the heads when the morning report was built.
"""
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from core.columns import UtcDateTime
from registry.audit_chain import AUDIT_STREAM, CHAINED_COLUMNS, GENESIS, row_hash, support_stream

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHAIN_COLUMNS = ('chain_stream', 'chain_seq', 'prev_hash', 'row_hash')
_BATCH = 5_000
_INTEGERS = {'actor_account_id', 'support_id', 'state_code', 'district', 'municipality', 'seccion'}


def upgrade() -> None:
    for table in ('auditevent', 'supportevent'):
        op.add_column(table, sa.Column('chain_stream', sa.String(length=40), nullable=True))
        op.add_column(table, sa.Column('chain_seq', sa.Integer(), nullable=True))
        op.add_column(table, sa.Column('prev_hash', sa.String(length=64), nullable=True))
        op.add_column(table, sa.Column('row_hash', sa.String(length=64), nullable=True))
        op.create_index(f'ux_{table}_chain', table, ['chain_stream', 'chain_seq'], unique=True)
    op.create_table(
        'chainhead',
        sa.Column('stream', sa.String(length=40), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('head_hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('stream'),
    )
    op.add_column('dailyreport', sa.Column('anchor', sa.Text(), nullable=False, server_default=''))
    _chain_existing_rows()


def _table(name: str) -> sa.TableClause:
    columns = [sa.column('id', sa.Integer())]
    for column in CHAINED_COLUMNS[name]:
        kind = UtcDateTime() if column == 'at' else sa.Integer() if column in _INTEGERS else sa.String()
        columns.append(sa.column(column, kind))
    return sa.table(name, *columns, *(sa.column(c) for c in _CHAIN_COLUMNS))


def _rows(connection: sa.Connection, name: str) -> Iterator[tuple[str, Any]]:
    table = _table(name)
    if name == 'auditevent':
        query = sa.select(table, sa.literal(None).label('process_id')).order_by(table.c.id)
    else:
        support = sa.table('support', sa.column('id', sa.Integer()), sa.column('process_id', sa.Integer()))
        joined = table.join(support, support.c.id == table.c.support_id)
        query = sa.select(table, support.c.process_id).select_from(joined).order_by(table.c.id)
    for row in connection.execute(query):
        yield (AUDIT_STREAM if name == 'auditevent' else support_stream(row.process_id)), row


def _chain_existing_rows() -> None:
    connection = op.get_bind()
    heads: dict[str, tuple[int, str]] = {}
    for name in ('auditevent', 'supportevent'):
        table = _table(name)
        update = (sa.update(table).where(table.c.id == sa.bindparam('b_id'))
                  .values(chain_stream=sa.bindparam('b_stream'), chain_seq=sa.bindparam('b_seq'),
                          prev_hash=sa.bindparam('b_prev'), row_hash=sa.bindparam('b_hash')))
        batch: list[dict[str, Any]] = []
        for stream, row in list(_rows(connection, name)):  # read whole: no cursor open while updating
            seq, prev = heads.get(stream, (0, GENESIS))
            digest = row_hash(table=name, row_id=row.id, stream=stream, seq=seq + 1, prev=prev, values=row._mapping)
            batch.append({'b_id': row.id, 'b_stream': stream, 'b_seq': seq + 1, 'b_prev': prev, 'b_hash': digest})
            heads[stream] = (seq + 1, digest)
            if len(batch) >= _BATCH:
                connection.execute(update, batch)
                batch = []
        if batch:
            connection.execute(update, batch)
    if heads:
        head_table = sa.table('chainhead', sa.column('stream'), sa.column('seq'), sa.column('head_hash'))
        connection.execute(sa.insert(head_table), [{'stream': stream, 'seq': seq, 'head_hash': head}
                                                   for stream, (seq, head) in sorted(heads.items())])


def downgrade() -> None:
    op.drop_column('dailyreport', 'anchor')
    op.drop_table('chainhead')
    for table in ('supportevent', 'auditevent'):
        op.drop_index(f'ux_{table}_chain', table_name=table)
        for column in reversed(_CHAIN_COLUMNS):
            op.drop_column(table, column)
