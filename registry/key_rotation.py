"""`registro keys rotate`: every sealed value under the current data key, and every blind index under the current
index key, online.

Rows go a small batch at a time, each batch in a short transaction of its own, so the app keeps writing meanwhile
(a row the app seals meanwhile is already under the current key). A row is rewritten only when one of its values
is under another key or one of its indexes differs, so a run stopped at any point resumes by running again, and a
second run changes nothing. Old keys stay configured until a run reports nothing left to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.sealing import Sealer, current_sealer

BATCH_ROWS = 500
# table -> sealed column -> blind index (column, purpose), or None when the column is never looked up
SEALED: dict[str, dict[str, tuple[str, str] | None]] = {
    "credentialreading": {"cic": ("cic_bidx", "cic"), "identificador_ciudadano": ("identificador_bidx",
                                                                                  "identificador"),
                          "ocr": ("ocr_bidx", "ocr"), "clave_elector": ("clave_elector_bidx", "clave_elector"),
                          "qr_text": ("qr_text_bidx", "qr")},
    "support": {"cic": ("cic_bidx", "cic"), "clave_elector": ("clave_elector_bidx", "clave_elector")},
    "activationcode": {"cic": ("cic_bidx", "cic"), "qr_text": ("qr_text_bidx", "qr")},
    "paperform": {"nombre": None, "apellido_paterno": None, "apellido_materno": None},
}
ROLL_INDEXES = {"cic": ("cic_bidx", "cic"), "ocr": ("ocr_bidx", "ocr"),
                "identificador_ciudadano": ("identificador_bidx", "identificador"),
                "clave_elector": ("clave_elector_bidx", "clave_elector")}

Progress = Callable[[str, int, int], None]  # table, rows examined so far, rows rewritten so far


@dataclass(frozen=True)
class Rotated:
    table: str
    examined: int
    rewritten: int


def rotate(engine: Engine, *, progress: Progress, batch_rows: int = BATCH_ROWS) -> list[Rotated]:
    """Re-seal and re-index every table's rows (see the module's docstring); the roll gets its indexes only."""
    sealer = current_sealer()
    done = [_rotate_table(engine, sealer, table, columns, progress, batch_rows) for table, columns in SEALED.items()]
    return [*done, _reindex_roll(engine, sealer, progress, batch_rows)]


def _rotate_table(engine: Engine, sealer: Sealer, table: str, columns: dict[str, tuple[str, str] | None],
                  progress: Progress, batch_rows: int) -> Rotated:
    names = list(columns)
    indexes = [index[0] for index in columns.values() if index is not None]
    select = text(f"SELECT id, {', '.join(names + indexes)} FROM {table} WHERE id > :last ORDER BY id "
                  f"LIMIT {int(batch_rows)}")
    targets = names + indexes
    update = text(f"UPDATE {table} SET {', '.join(f'{name} = :{name}' for name in targets)} WHERE id = :id")
    last = examined = rewritten = 0
    while True:
        with engine.begin() as connection:  # one short transaction per batch
            rows = connection.execute(select, {"last": last}).all()
            if not rows:
                return Rotated(table, examined, rewritten)
            changes = [change for row in rows if (change := _fresh(sealer, table, columns, row)) is not None]
            if changes:
                connection.execute(update, changes)
        last, examined, rewritten = rows[-1][0], examined + len(rows), rewritten + len(changes)
        progress(table, examined, rewritten)


def _fresh(sealer: Sealer, table: str, columns: dict[str, tuple[str, str] | None],
           row: Any) -> dict[str, Any] | None:
    """The row's values re-sealed and re-indexed, or None when it is already under the current keys."""
    names = list(columns)
    values, stored_indexes = dict(zip(names, row[1:1 + len(names)], strict=True)), row[1 + len(names):]
    change: dict[str, Any] = {"id": row[0]}
    stale = False
    for name, sealed in values.items():
        aad = f"{table}.{name}"
        plain = None if sealed is None else sealer.open(sealed, aad=aad)
        keep = sealed is None or sealer.key_id_of(sealed) == sealer.current_key_id
        stale = stale or not keep
        change[name] = sealed if keep or plain is None else sealer.seal(plain, aad=aad)
        index = columns[name]
        if index is not None:
            change[index[0]] = _index_of(sealer, plain, index[1], empty="" if table == "activationcode" else None)
    current = [change[index[0]] for index in columns.values() if index is not None]
    stale = stale or current != list(stored_indexes)
    return change if stale else None


def _index_of(sealer: Sealer, plain: str | None, purpose: str, *, empty: str | None) -> str | None:
    if plain is None or plain == "":  # a purged activation code keeps "" (not null) in its columns
        return empty if plain == "" else None
    return sealer.blind_index(plain, purpose)


def _reindex_roll(engine: Engine, sealer: Sealer, progress: Progress, batch_rows: int) -> Rotated:
    names = list(ROLL_INDEXES)
    indexes = [index for index, _purpose in ROLL_INDEXES.values()]
    select = text(f"SELECT roll_import_id, {', '.join(names + indexes)} FROM rollentry "
                  "WHERE roll_import_id > :roll OR (roll_import_id = :roll AND clave_elector > :clave) "
                  f"ORDER BY roll_import_id, clave_elector LIMIT {int(batch_rows)}")
    update = text(f"UPDATE rollentry SET {', '.join(f'{index} = :{index}' for index in indexes)} "
                  "WHERE roll_import_id = :roll AND clave_elector = :clave")
    last: tuple[int, str] = (-1, "")
    examined = rewritten = 0
    while True:
        with engine.begin() as connection:
            rows = connection.execute(select, {"roll": last[0], "clave": last[1]}).all()
            if not rows:
                return Rotated("rollentry", examined, rewritten)
            changes = [change for row in rows if (change := _roll_change(sealer, names, row)) is not None]
            if changes:
                connection.execute(update, changes)
        last = (rows[-1][0], rows[-1][names.index("clave_elector") + 1])
        examined, rewritten = examined + len(rows), rewritten + len(changes)
        progress("rollentry", examined, rewritten)


def _roll_change(sealer: Sealer, names: list[str], row: Any) -> dict[str, Any] | None:
    plain = dict(zip(names, row[1:1 + len(names)], strict=True))
    fresh = {ROLL_INDEXES[name][0]: None if value is None else sealer.blind_index(value, ROLL_INDEXES[name][1])
             for name, value in plain.items()}
    if list(fresh.values()) == list(row[1 + len(names):]):
        return None
    return {"roll": row[0], "clave": plain["clave_elector"], **fresh}

