"""The schema the migrations build is the schema the models declare, on SQLite and on PostgreSQL alike."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from core.db import make_engine
from registry import migrate


def test_migrated_database_has_no_difference_from_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        options = {"compare_type": True, "include_object": migrate.include_object}
        context = MigrationContext.configure(connection, opts=options)
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_every_table_and_column_of_the_models_exists(engine: Engine) -> None:
    inspector = inspect(engine)
    for table in SQLModel.metadata.sorted_tables:
        columns = {column["name"]: column for column in inspector.get_columns(table.name)}
        assert set(columns) == {column.name for column in table.columns}, table.name
        for column in table.columns:
            assert columns[column.name]["nullable"] == column.nullable, f"{table.name}.{column.name}"


def test_lookup_indexes_exist(engine: Engine) -> None:
    inspector = inspect(engine)
    indexed = {
        (table, tuple(index["column_names"]))
        for table in ("support", "rollentry", "credentialreading")
        for index in inspector.get_indexes(table)
    }
    assert ("support", ("aspirant_id",)) in indexed
    assert ("support", ("process_id", "received_at")) in indexed
    # personal columns are sealed: the look-ups go through their blind indexes (core/sealing.py)
    assert ("support", ("cic_bidx",)) in indexed
    assert ("support", ("clave_elector_bidx",)) in indexed
    assert ("rollentry", ("cic_bidx",)) in indexed
    assert ("rollentry", ("ocr_bidx",)) in indexed
    assert ("rollentry", ("identificador_bidx",)) in indexed
    assert ("rollentry", ("roll_import_id", "clave_elector_bidx")) in indexed
    assert ("credentialreading", ("ocr_bidx",)) in indexed
    assert ("credentialreading", ("identificador_bidx",)) in indexed
    assert not any("status" in columns or "citizen_key" in columns for table, columns in indexed if table == "support")


def test_upgrade_is_idempotent(engine: Engine) -> None:
    migrate.upgrade(engine)
    assert "support" in inspect(engine).get_table_names()


def test_upgrade_builds_an_empty_sqlite_file(tmp_path: object) -> None:
    fresh = make_engine(f"sqlite:///{tmp_path}/fresh.db")
    migrate.upgrade(fresh)
    assert set(inspect(fresh).get_table_names()) >= set(SQLModel.metadata.tables)
    fresh.dispose()
