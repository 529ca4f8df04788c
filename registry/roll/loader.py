"""Loading a roll file's rows into the database, the fast way each database offers, and the one switch that puts
the new roll in force.

- PostgreSQL: the rows stream with COPY into a table of the import's own (no index while loading), which gets
  its key and lookup indexes afterwards and is attached to `rollentry` as a partition in the same transaction
  as the switch. A killed import leaves nothing: its transaction, table included, rolls back.
- SQLite: batched inserts. Each batch commits on its own so that the app's writers (supports arriving during an
  import) wait a fraction of a second for the write lock, not the whole import; the rows stay invisible until
  the switch because every reader reads the CURRENT import only, and a killed import's rows are swept when the
  import runs again (`discard_rows`).

Either way the first row of a clave de elector wins; a later row with the same clave is a rejection that names
the line it repeats."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, Protocol

import psycopg
from sqlalchemy.engine import Engine

from core.sealing import current_sealer
from registry.roll.source import RollRow, RowRejection

BATCH_ROWS = 20_000
MAINTENANCE_MEMORY = "512MB"  # PostgreSQL's, for this import's index builds only (not this process's memory)
SQLITE_IN_CHUNK = 500  # bound parameters per IN (...) lookup, under SQLite's limit
COLUMNS = ("roll_import_id", "clave_elector", "source_line", "cic", "ocr", "identificador_ciudadano", "nombre",
           "apellido_paterno", "apellido_materno", "state_code", "district", "municipality", "seccion", "status",
           "baja_reason", "cic_bidx", "ocr_bidx", "identificador_bidx", "clave_elector_bidx")
# The compulsa's look-ups, by blind index (the same as the models' ix_rollentry_*, which the partitions attach to).
LOOKUP_INDEXES = (("cic", "cic_bidx"), ("ocr", "ocr_bidx"), ("identificador", "identificador_bidx"),
                  ("clave", "roll_import_id, clave_elector_bidx"))


class LoadSink(Protocol):
    """Where the loader reports: progress after each batch (may raise to cancel) and the rows it refused."""

    def progress(self, rows_seen: int) -> None: ...

    def rejected(self, rejections: list[RowRejection]) -> None: ...


@dataclass(frozen=True)
class Loaded:
    rows: int
    rejected: int


# Decides, once the rows are in, whether the import may be put in force: a Spanish refusal, or None to switch.
Verdict = Callable[[Loaded], str | None]


@dataclass(frozen=True)
class Switch:
    loaded: Loaded
    refusal: str | None  # the import was not put in force, and why
    superseded: tuple[int, ...] = ()


def partition_name(import_id: int) -> str:
    return f"rollentry_import_{int(import_id)}"


def as_tuple(import_id: int, row: RollRow, index: Callable[[str, str], str]) -> tuple[Any, ...]:
    return (import_id, row.clave_elector, row.line, row.cic, row.ocr, row.identificador_ciudadano, row.nombre,
            row.apellido_paterno, row.apellido_materno, row.state_code, row.district, row.municipality,
            row.seccion, row.status.value, row.baja_reason.value if row.baja_reason else None,
            row.cic and index(row.cic, "cic"), row.ocr and index(row.ocr, "ocr"),
            row.identificador_ciudadano and index(row.identificador_ciudadano, "identificador"),
            index(row.clave_elector, "clave_elector"))


def load_and_switch(engine: Engine, *, import_id: int, opl_id: int, rows: Iterable[RollRow | RowRejection],
                    sink: LoadSink, verdict: Verdict, now: datetime) -> Switch:
    if engine.dialect.name == "postgresql":
        return _PostgresLoad(engine, import_id, opl_id, sink).run(rows, verdict, now)
    return _SqliteLoad(engine, import_id, opl_id, sink).run(rows, verdict, now)


def _batches(rows: Iterable[RollRow | RowRejection]) -> Iterator[list[RollRow | RowRejection]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH_ROWS)):
        yield batch


def _split(import_id: int,
           batch: list[RollRow | RowRejection]) -> tuple[list[tuple[Any, ...]], list[RowRejection]]:
    index = current_sealer().blind_index  # looked up once per batch: ten million rows pass here
    good = [as_tuple(import_id, row, index) for row in batch if isinstance(row, RollRow)]
    return good, [row for row in batch if isinstance(row, RowRejection)]


def repeated(line: int, first_line: int) -> RowRejection:
    reason = f"clave_elector: repetida; la primera aparición está en la línea {first_line}"
    return RowRejection(line=line, reason=reason)


# The Lista Nominal's size per sección, counted once at the switch (the threshold's base; the reports never count
# ten million rows): citizens in the Lista Nominal only, not those in the Padrón alone or removed.
_TALLY = ("INSERT INTO rolltally (roll_import_id, state_code, district, municipality, seccion, vigentes) "
          "SELECT roll_import_id, state_code, district, municipality, seccion, count(*) FROM {table} "
          "WHERE roll_import_id = {p} AND status = 'vigente' "
          "GROUP BY roll_import_id, state_code, district, municipality, seccion")
_FORGET_TALLY = "DELETE FROM rolltally WHERE roll_import_id = {p}"
_SWITCH_OLD = "UPDATE rollimport SET state = 'superseded' WHERE opl_id = {p} AND state = 'current' RETURNING id"
_SWITCH_NEW = ("UPDATE rollimport SET state = 'current', switched_at = {p}, row_count = {p}, rows_rejected = {p} "
               "WHERE id = {p}")


class _PostgresLoad:
    def __init__(self, engine: Engine, import_id: int, opl_id: int, sink: LoadSink) -> None:
        self.engine, self.import_id, self.opl_id, self.sink = engine, import_id, opl_id, sink
        self.table = partition_name(import_id)

    def run(self, rows: Iterable[RollRow | RowRejection], verdict: Verdict, now: datetime) -> Switch:
        raw = self.engine.raw_connection()
        try:
            connection: psycopg.Connection[Any] = raw.driver_connection  # type: ignore[assignment]
            loaded = self._load(connection, rows)
            refusal = verdict(loaded)
            if refusal is not None:
                raw.rollback()
                return Switch(loaded, refusal)
            self._index(connection)
            superseded = self._switch(connection, loaded, now)
            raw.commit()
            return Switch(loaded, None, superseded)
        except BaseException:
            raw.rollback()
            raise
        finally:
            raw.close()

    def _load(self, connection: psycopg.Connection[Any], rows: Iterable[RollRow | RowRejection]) -> Loaded:
        with connection.cursor() as cursor:
            # The key and the lookup indexes over millions of rows sort in memory instead of spilling to disk.
            cursor.execute(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_MEMORY}'")
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
            cursor.execute(f"CREATE TABLE {self.table} (LIKE rollentry INCLUDING DEFAULTS)")
            loaded = rejected = seen = 0
            with cursor.copy(f"COPY {self.table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for batch in _batches(rows):
                    good, bad = _split(self.import_id, batch)
                    for values in good:
                        copy.write_row(values)
                    loaded, rejected, seen = loaded + len(good), rejected + len(bad), seen + len(batch)
                    self._report(bad, seen)
            duplicates = self._key_or_deduplicate(cursor)
        return Loaded(loaded - duplicates, rejected + duplicates)

    def _report(self, bad: list[RowRejection], seen: int) -> None:
        if bad:
            self.sink.rejected(bad)
        self.sink.progress(seen)

    def _key_or_deduplicate(self, cursor: psycopg.Cursor[Any]) -> int:
        """Add the key; only if a clave repeats (rare: a file joined twice) find and drop the later rows."""
        add_key = f"ALTER TABLE {self.table} ADD PRIMARY KEY (roll_import_id, clave_elector)"
        try:
            with cursor.connection.transaction():
                cursor.execute(add_key)
            return 0
        except psycopg.errors.UniqueViolation:
            pass
        cursor.execute(
            f"DELETE FROM {self.table} AS s USING (SELECT clave_elector, min(source_line) AS first_line "
            f"FROM {self.table} GROUP BY clave_elector HAVING count(*) > 1) AS d "
            "WHERE s.clave_elector = d.clave_elector AND s.source_line <> d.first_line "
            "RETURNING s.source_line, d.first_line")
        duplicates = [repeated(line, first) for line, first in cursor.fetchall()]
        self.sink.rejected(sorted(duplicates, key=lambda rejection: rejection.line))
        cursor.execute(add_key)
        return len(duplicates)

    def _index(self, connection: psycopg.Connection[Any]) -> None:
        with connection.cursor() as cursor:
            for suffix, column in LOOKUP_INDEXES:
                cursor.execute(f"CREATE INDEX {self.table}_{suffix} ON {self.table} ({column})")
            # With this constraint in place, ATTACH PARTITION knows every row belongs without scanning them.
            cursor.execute(f"ALTER TABLE {self.table} ADD CONSTRAINT {self.table}_import "
                           f"CHECK (roll_import_id = {int(self.import_id)})")
            cursor.execute(f"ANALYZE {self.table}")

    def _switch(self, connection: psycopg.Connection[Any], loaded: Loaded, now: datetime) -> tuple[int, ...]:
        with connection.cursor() as cursor:
            cursor.execute(_SWITCH_OLD.format(p="%s"), (self.opl_id,))
            superseded = tuple(row[0] for row in cursor.fetchall())
            cursor.execute(_SWITCH_NEW.format(p="%s"), (now, loaded.rows, loaded.rejected, self.import_id))
            cursor.execute(_TALLY.format(table=self.table, p="%s"), (self.import_id,))
            cursor.execute(f"ALTER TABLE rollentry ATTACH PARTITION {self.table} FOR VALUES IN ({int(self.import_id)})")
            for old in superseded:
                cursor.execute(_FORGET_TALLY.format(p="%s"), (old,))
                cursor.execute(f"DROP TABLE IF EXISTS {partition_name(old)}")
                cursor.execute("DELETE FROM rollentry WHERE roll_import_id = %s", (old,))  # rows of the default
            # The planner estimates joins on the partitioned table from the table's own statistics: without them
            # it takes every lookup of a citizen for thousands of rows and scans instead of using the indexes.
            cursor.execute("ANALYZE rollentry")
        return superseded


class _SqliteLoad:
    def __init__(self, engine: Engine, import_id: int, opl_id: int, sink: LoadSink) -> None:
        self.engine, self.import_id, self.opl_id, self.sink = engine, import_id, opl_id, sink

    def run(self, rows: Iterable[RollRow | RowRejection], verdict: Verdict, now: datetime) -> Switch:
        discard_rows(self.engine, self.import_id)  # what a killed run of this import left behind
        try:
            loaded = self._load(rows)
        except BaseException:
            discard_rows(self.engine, self.import_id)
            raise
        refusal = verdict(loaded)
        if refusal is not None:
            discard_rows(self.engine, self.import_id)
            return Switch(loaded, refusal)
        superseded = self._switch(loaded, now)
        for old in superseded:
            discard_rows(self.engine, old)
        return Switch(loaded, None, superseded)

    def _load(self, rows: Iterable[RollRow | RowRejection]) -> Loaded:
        loaded = rejected = seen = 0
        insert = (f"INSERT OR IGNORE INTO rollentry ({', '.join(COLUMNS)}) "
                  f"VALUES ({', '.join('?' * len(COLUMNS))})")
        for batch in _batches(rows):
            good, bad = _split(self.import_id, batch)
            with _sqlite_write(self.engine) as cursor:
                cursor.executemany(insert, good)
                repeats = self._repeats(cursor, good) if cursor.rowcount < len(good) else []
            loaded += len(good) - len(repeats)
            rejected, seen = rejected + len(bad) + len(repeats), seen + len(batch)
            if bad or repeats:
                self.sink.rejected(sorted(bad + repeats, key=lambda rejection: rejection.line))
            self.sink.progress(seen)
        return Loaded(loaded, rejected)

    def _repeats(self, cursor: Any, good: list[tuple[Any, ...]]) -> list[RowRejection]:
        """The rows of this batch whose clave was already in (an earlier line kept it)."""
        stored: dict[str, int] = {}
        claves = sorted({values[1] for values in good})
        for start in range(0, len(claves), SQLITE_IN_CHUNK):
            chunk = claves[start:start + SQLITE_IN_CHUNK]
            cursor.execute(f"SELECT clave_elector, source_line FROM rollentry WHERE roll_import_id = ? "
                           f"AND clave_elector IN ({', '.join('?' * len(chunk))})", (self.import_id, *chunk))
            stored.update(cursor.fetchall())
        return [repeated(values[2], stored[values[1]]) for values in good if stored[values[1]] != values[2]]

    def _switch(self, loaded: Loaded, now: datetime) -> tuple[int, ...]:
        with _sqlite_write(self.engine) as cursor:
            cursor.execute(_SWITCH_OLD.format(p="?"), (self.opl_id,))
            superseded = tuple(row[0] for row in cursor.fetchall())
            cursor.execute(_SWITCH_NEW.format(p="?"), (now.isoformat(sep=" "), loaded.rows, loaded.rejected,
                                                       self.import_id))
            cursor.execute(_TALLY.format(table="rollentry", p="?"), (self.import_id,))
            for old in superseded:
                cursor.execute(_FORGET_TALLY.format(p="?"), (old,))
        return superseded


@contextmanager
def _sqlite_write(engine: Engine) -> Iterator[Any]:
    """One short write transaction on a raw SQLite cursor (executemany without SQLAlchemy's per-row work)."""
    raw = engine.raw_connection()
    cursor = raw.cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
    finally:
        cursor.close()
        raw.close()


def discard_rows(engine: Engine, import_id: int) -> None:
    """Remove an import's rows (a replaced roll, or what a failed or killed import left), a batch at a time so the
    app's writers never wait long. On PostgreSQL the import's own table goes in one statement."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {partition_name(import_id)}")
            connection.exec_driver_sql("DELETE FROM rollentry WHERE roll_import_id = %s", (import_id,))
        return
    while True:
        with _sqlite_write(engine) as cursor:
            cursor.execute("DELETE FROM rollentry WHERE rowid IN (SELECT rowid FROM rollentry "
                           "WHERE roll_import_id = ? LIMIT ?)", (import_id, BATCH_ROWS * 2))
            if cursor.rowcount == 0:
                return
