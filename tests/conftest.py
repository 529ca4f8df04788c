"""Test fixtures: every test that touches the database starts from a clean one, on SQLite by default or on
PostgreSQL when REGISTRO_TEST_DATABASE_URL is set (CI runs the whole suite both ways)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, Engine, make_url
from sqlmodel import Session, SQLModel
from starlette.applications import Starlette
from starlette.testclient import TestClient

import registry.models  # noqa: F401  (every table on the metadata)
from core.db import make_engine
from core.settings import Settings, load_settings
from registry import migrate
from web.app import create_app

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"


def _worker_suffix() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _postgres_admin(url: URL) -> Engine:
    return make_engine(url.set(database="postgres").render_as_string(hide_password=False))


def _recreate_database(url: URL, name: str, *, create: bool) -> None:
    admin = _postgres_admin(url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite in a temporary folder, or one PostgreSQL database per test process (xdist workers and parallel
    runs never share one) on the server named by REGISTRO_TEST_DATABASE_URL, dropped at the end."""
    base = os.environ.get("REGISTRO_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    url = make_url(base)
    name = f"{url.database}_{_worker_suffix()}_{os.getpid()}"
    _recreate_database(url, name, create=True)
    yield url.set(database=name).render_as_string(hide_password=False)
    _recreate_database(url, name, create=False)


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate.upgrade(engine)  # the suite runs on the schema the migrations build, not on create_all
    yield engine
    engine.dispose()


def _empty_all_tables(engine: Engine) -> None:
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    """A clean database for this test."""
    _empty_all_tables(migrated_engine)
    return migrated_engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as db_session:
        yield db_session


@pytest.fixture
def settings(engine: Engine, database_url: str, tmp_path: Path) -> Settings:
    return load_settings(env="test", data_dir=tmp_path / "var", database_url=database_url,
                         secret_key="test-secret-" + "x" * 40)


@pytest.fixture
def app(settings: Settings) -> Starlette:
    return create_app(settings)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def specimens_dir() -> Path:
    path = SHARED_DIR / "specimens"
    if not path.is_dir():
        pytest.skip("../shared/specimens is not beside this checkout")
    return path
