"""Database engine and sessions. SQLite is the embedded default; PostgreSQL the production database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from core.files import private_sqlite_file

READ_ONLY = "registro_read_only"  # execution option of a unit of work that only reads
SQLITE_BUSY_TIMEOUT_MS = 10_000  # how long a writer waits for SQLite's one write lock before giving up


def _enable_sqlite_integrity(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy then emits BEGIN itself (see _begin).
    dbapi_connection.isolation_level = None
    # WAL lets the web workers read while one writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # Take the write lock up front: two requests racing on the same idempotency key then queue (busy_timeout)
    # instead of failing with "database is locked" when the later one tries to write. A read-only unit of work
    # (session_scope(read_only=True)) never writes, so it must not queue behind, or block, the writers.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def make_engine(url: str, *, sqlite_write_lock_at_begin: bool = True) -> Engine:
    """The app's engines take SQLite's write lock at BEGIN; a test's own inspection engine passes False so that
    reading in a test never holds the lock the app under test needs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            private_sqlite_file(Path(parsed.database))
        # hide_parameters: an error's message (which gets logged) must not quote names, claves or codes.
        engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
        event.listen(engine, "connect", _enable_sqlite_integrity)
        event.listen(engine, "begin", _begin_immediate if sqlite_write_lock_at_begin else _begin_deferred)
        return engine
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True)


_VIEW = "_registro_read_only_view"


def _read_only(engine: Engine) -> Engine:
    """The same engine (same pool) with transactions that only read: a plain deferred BEGIN on SQLite, and on
    PostgreSQL a READ ONLY transaction, so a reader that writes by mistake fails loudly there."""
    # Made once per engine and kept on it: a fresh view per unit of work cost a third of a millisecond more of CPU
    # on every signed-in request (each reads its session through one).
    view: Engine | None = engine.__dict__.get(_VIEW)
    if view is None:
        options: dict[str, Any] = {READ_ONLY: True}
        if engine.dialect.name == "postgresql":
            options["postgresql_readonly"] = True
        view = engine.execution_options(**options)
        setattr(engine, _VIEW, view)
    return view


@contextmanager
def session_scope(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """One unit of work: committed if the block ends normally, rolled back otherwise. `read_only=True` for work
    that only reads (it never takes SQLite's write lock)."""
    with Session(_read_only(engine) if read_only else engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
