"""Units of work that only read: they never take SQLite's write lock, and PostgreSQL refuses a write in them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from core.db import make_engine, session_scope


@pytest.fixture
def app_engine(engine: Engine, database_url: str) -> Iterator[Engine]:
    """An engine made like the app's (SQLite: write lock at BEGIN), on the clean test database."""
    made = make_engine(database_url)
    yield made
    made.dispose()


def test_a_read_only_unit_of_work_reads_while_a_writer_holds_the_lock(app_engine: Engine) -> None:
    if app_engine.dialect.name != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    # BEGIN IMMEDIATE: the write lock, held until the block ends
    with app_engine.connect() as writer, writer.begin(), session_scope(app_engine, read_only=True) as session:
        assert session.execute(text("SELECT count(*) FROM account")).scalar() == 0


def test_a_write_unit_of_work_still_takes_the_lock_up_front(app_engine: Engine) -> None:
    if app_engine.dialect.name != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    with app_engine.connect() as writer, writer.begin(), app_engine.connect() as other:
        other.connection.dbapi_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
        with pytest.raises(DBAPIError, match="locked"), other.begin():
            pass


def test_postgresql_refuses_a_write_in_a_read_only_unit_of_work(app_engine: Engine) -> None:
    if app_engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's READ ONLY transactions")
    with pytest.raises(DBAPIError, match="read-only"), session_scope(app_engine, read_only=True) as session:
        session.execute(text("INSERT INTO opl (name, short_name, state_code) VALUES ('x', 'x', 1)"))


def test_read_only_units_of_work_share_one_view_of_the_engine(app_engine: Engine) -> None:
    """Every signed-in request reads through it: made once per engine, not once per unit of work."""
    with session_scope(app_engine, read_only=True) as first, session_scope(app_engine, read_only=True) as second:
        assert first.get_bind() is second.get_bind()
        assert first.get_bind() is not app_engine and first.get_bind().engine.pool is app_engine.pool
