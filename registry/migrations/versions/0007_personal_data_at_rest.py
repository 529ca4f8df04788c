"""personal columns encrypted with AES-GCM and blind indexes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

- credentialreading (cic, identificador ciudadano, OCR, clave de elector, QR token), support (cic, clave de elector),
  activationcode (cic, QR token) and paperform (names): sealed with AES-GCM (core/sealing.py) in text columns, and
  where the app looks them up a blind index beside them (`*_bidx`, HMAC-SHA256) that takes over the old index.
- support.citizen_key: the blind index of the roll's clave de elector instead of the clave itself.
- rollentry: the blind indexes the compulsa joins on, computed for the rows already loaded (its names and clave are
  not sealed yet: see docs/privacy.md).

Existing rows are converted in batches with the keys the caller installed (`registro migrate` installs them from
the settings), on SQLite and PostgreSQL alike.
"""
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from core.sealing import BLIND_INDEX_CHARS, current_sealer

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2_000
# table -> sealed column -> (blind index column, purpose), or None: sealed, never looked up
SEALED: dict[str, dict[str, tuple[str, str] | None]] = {
    'credentialreading': {'cic': ('cic_bidx', 'cic'),
                          'identificador_ciudadano': ('identificador_bidx', 'identificador'),
                          'ocr': ('ocr_bidx', 'ocr'), 'clave_elector': ('clave_elector_bidx', 'clave_elector'),
                          'qr_text': ('qr_text_bidx', 'qr')},
    'support': {'cic': ('cic_bidx', 'cic'), 'clave_elector': ('clave_elector_bidx', 'clave_elector')},
    'activationcode': {'cic': ('cic_bidx', 'cic'), 'qr_text': ('qr_text_bidx', 'qr')},
    'paperform': {'nombre': None, 'apellido_paterno': None, 'apellido_materno': None},
}
OLD_WIDTHS = {'cic': 9, 'identificador_ciudadano': 9, 'ocr': 13, 'clave_elector': 18, 'qr_text': 200,
              'nombre': 120, 'apellido_paterno': 120, 'apellido_materno': 120}
NULLABLE = {'activationcode': False, 'paperform': False}
# (table, old index name, old column, new columns)
INDEXES = (
    ('credentialreading', 'ix_credentialreading_cic', 'cic', ['cic_bidx']),
    ('credentialreading', 'ix_credentialreading_ocr', 'ocr', ['ocr_bidx']),
    ('credentialreading', 'ix_credentialreading_identificador', 'identificador_ciudadano', ['identificador_bidx']),
    ('credentialreading', 'ix_credentialreading_qr_text', 'qr_text', ['qr_text_bidx']),
    ('support', 'ix_support_cic', 'cic', ['cic_bidx']),
    ('support', 'ix_support_clave_elector', 'clave_elector', ['clave_elector_bidx']),
)
ROLL_INDEXES = {'cic': ('cic_bidx', 'cic'), 'ocr': ('ocr_bidx', 'ocr'),
                'identificador_ciudadano': ('identificador_bidx', 'identificador'),
                'clave_elector': ('clave_elector_bidx', 'clave_elector')}


def _bidx_column(name: str, *, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length=BLIND_INDEX_CHARS), nullable=nullable,
                     server_default=None if nullable else '')


def _retype(table: str, column: str, new: sa.types.TypeEngine[Any], old: sa.types.TypeEngine[Any],
            nullable: bool) -> None:
    """A column's new type. SQLite would copy the whole table to change it, and dropping the old copy fails on the
    foreign keys of its children's rows (checked at once, inside the migration's transaction): there the column
    is added anew, filled, and takes the old one's place, all native statements that leave the table where it is."""
    if op.get_bind().dialect.name != 'sqlite':
        op.alter_column(table, column, type_=new, existing_type=old, existing_nullable=nullable)
        return
    spare = f'{column}__new'
    kind = new.compile(dialect=op.get_bind().dialect)
    op.execute(f"ALTER TABLE {table} ADD COLUMN {spare} {kind}" + ("" if nullable else " NOT NULL DEFAULT ''"))
    op.execute(f"UPDATE {table} SET {spare} = {column}")
    op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    op.execute(f"ALTER TABLE {table} RENAME COLUMN {spare} TO {column}")


def upgrade() -> None:
    for table, old_index, _column, _new in INDEXES:
        op.drop_index(old_index, table_name=table)
    op.drop_index('ix_activationcode_cic', table_name='activationcode')
    op.drop_index('ix_activationcode_qr_text', table_name='activationcode')
    for table, columns in SEALED.items():
        for column, index in columns.items():
            _retype(table, column, sa.Text(), sa.String(length=OLD_WIDTHS[column]), NULLABLE.get(table, True))
            if index is not None:
                op.add_column(table, _bidx_column(index[0], nullable=NULLABLE.get(table, True)))
    _retype('support', 'citizen_key', sa.String(length=BLIND_INDEX_CHARS), sa.String(length=18), True)
    for column, _index in ROLL_INDEXES.values():
        op.add_column('rollentry', _bidx_column(column))
    _seal_rows()
    _index_roll()
    _citizen_keys()
    _new_indexes()


def _new_indexes() -> None:
    for table, old_index, _column, new in INDEXES:
        op.create_index(old_index, table, new, unique=False)
    op.create_index('ix_activationcode_cic_bidx', 'activationcode', ['cic_bidx'], unique=False)
    op.create_index('ix_activationcode_qr_text_bidx', 'activationcode', ['qr_text_bidx'], unique=False)
    op.drop_index('ix_rollentry_cic', table_name='rollentry')
    op.drop_index('ix_rollentry_ocr', table_name='rollentry')
    op.drop_index('ix_rollentry_identificador', table_name='rollentry')
    op.create_index('ix_rollentry_cic', 'rollentry', ['cic_bidx'], unique=False)
    op.create_index('ix_rollentry_ocr', 'rollentry', ['ocr_bidx'], unique=False)
    op.create_index('ix_rollentry_identificador', 'rollentry', ['identificador_bidx'], unique=False)
    op.create_index('ix_rollentry_clave', 'rollentry', ['roll_import_id', 'clave_elector_bidx'], unique=False)


def _batches(table: str, columns: list[str]) -> Any:
    """Rows in primary-key order, BATCH at a time (never the whole table in memory)."""
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(sa.text(f"SELECT id, {', '.join(columns)} FROM {table} WHERE id > :last "
                                          f"ORDER BY id LIMIT {BATCH}"), {"last": last}).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _seal_rows() -> None:
    sealer = current_sealer()
    connection = op.get_bind()
    for table, columns in SEALED.items():
        names = list(columns)
        targets = [*names, *(index[0] for index in columns.values() if index is not None)]
        update = sa.text(f"UPDATE {table} SET {', '.join(f'{name} = :{name}' for name in targets)} WHERE id = :id")
        for rows in _batches(table, names):
            values = []
            for row in rows:
                item: dict[str, Any] = {"id": row[0]}
                for name, plain in zip(names, row[1:], strict=True):
                    item[name] = None if plain is None else sealer.seal(plain, aad=f"{table}.{name}")
                    index = columns[name]
                    if index is not None:
                        item[index[0]] = None if plain is None else sealer.blind_index(plain, index[1])
                values.append(item)
            connection.execute(update, values)


def _index_roll() -> None:
    """The roll stays in clear for now; its rows get the blind indexes the compulsa joins on."""
    index: Callable[[str, str], str] = current_sealer().blind_index
    connection = op.get_bind()
    names = list(ROLL_INDEXES)
    update = sa.text("UPDATE rollentry SET " + ", ".join(f"{target} = :{target}" for target, _ in
                                                          ROLL_INDEXES.values())
                     + " WHERE roll_import_id = :roll AND clave_elector = :clave")
    last: tuple[int, str] = (-1, '')
    while True:
        rows = connection.execute(sa.text(
            f"SELECT roll_import_id, {', '.join(names)} FROM rollentry WHERE roll_import_id > :roll "
            f"OR (roll_import_id = :roll AND clave_elector > :clave) ORDER BY roll_import_id, clave_elector "
            f"LIMIT {BATCH}"), {"roll": last[0], "clave": last[1]}).all()
        if not rows:
            return
        values = []
        for row in rows:
            item: dict[str, Any] = {"roll": row[0]}
            for name, plain in zip(names, row[1:], strict=True):
                item[ROLL_INDEXES[name][0]] = None if plain is None else index(plain, ROLL_INDEXES[name][1])
            item["clave"] = row[-1]
            values.append(item)
        connection.execute(update, values)
        last = (rows[-1][0], rows[-1][-1])


def _citizen_keys() -> None:
    """What the compulsa stored as the citizen (the roll's clave) becomes that clave's blind index."""
    sealer = current_sealer()
    connection = op.get_bind()
    update = sa.text("UPDATE support SET citizen_key = :key WHERE id = :id")
    for rows in _batches('support', ['citizen_key']):
        values = [{"id": row[0], "key": sealer.blind_index(row[1], 'clave_elector')} for row in rows
                  if row[1] is not None]
        if values:
            connection.execute(update, values)


def downgrade() -> None:
    sealer = current_sealer()
    connection = op.get_bind()
    op.drop_index('ix_rollentry_clave', table_name='rollentry')
    for name, column in (('ix_rollentry_cic', 'cic'), ('ix_rollentry_ocr', 'ocr'),
                         ('ix_rollentry_identificador', 'identificador_ciudadano')):
        op.drop_index(name, table_name='rollentry')
        op.create_index(name, 'rollentry', [column], unique=False)
    # The citizen keys cannot be turned back into claves: the next compulsa writes them again.
    op.execute("UPDATE support SET citizen_key = NULL")
    for table, columns in SEALED.items():
        names = list(columns)
        update = sa.text(f"UPDATE {table} SET {', '.join(f'{name} = :{name}' for name in names)} WHERE id = :id")
        for rows in _batches(table, names):
            connection.execute(update, [
                {"id": row[0], **{name: None if value is None else sealer.open(value, aad=f"{table}.{name}")
                                  for name, value in zip(names, row[1:], strict=True)}} for row in rows])
    for table, old_index, _column, _new in INDEXES:
        op.drop_index(old_index, table_name=table)
    op.drop_index('ix_activationcode_cic_bidx', table_name='activationcode')
    op.drop_index('ix_activationcode_qr_text_bidx', table_name='activationcode')
    _retype('support', 'citizen_key', sa.String(length=18), sa.String(length=BLIND_INDEX_CHARS), True)
    for table, columns in SEALED.items():
        for column, index in columns.items():
            _retype(table, column, sa.String(length=OLD_WIDTHS[column]), sa.Text(), NULLABLE.get(table, True))
            if index is not None:
                op.drop_column(table, index[0])
    for column, _index in ROLL_INDEXES.values():
        op.drop_column('rollentry', column)
    for table, old_index, column, _new in INDEXES:
        op.create_index(old_index, table, [column], unique=False)
    op.create_index('ix_activationcode_cic', 'activationcode', ['cic'], unique=False)
    op.create_index('ix_activationcode_qr_text', 'activationcode', ['qr_text'], unique=False)
