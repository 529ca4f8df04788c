"""Data files are the service account's alone whatever the umask: tested with the most permissive one (000),
under which the old code left the data dir 0777 and the database, images, mail and secret key 0666."""

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from core.db import make_engine
from core.files import private_directory, write_private
from core.settings import load_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("permissive_umask")
def test_helpers_make_private_directories_and_files(tmp_path: Path) -> None:
    folder = private_directory(tmp_path / "a" / "b")
    write_private(folder / "f", b"x")
    assert (mode(folder), mode(folder / "f")) == (0o700, 0o600)


@pytest.mark.usefixtures("permissive_umask")
def test_an_existing_readable_file_is_tightened_when_rewritten(tmp_path: Path) -> None:
    existing = tmp_path / "f"
    existing.write_bytes(b"old")
    existing.chmod(0o644)
    write_private(existing, b"new")
    assert (mode(existing), existing.read_bytes()) == (0o600, b"new")


@pytest.mark.usefixtures("permissive_umask")
def test_the_embedded_database_and_its_wal_and_shm_files_are_private(tmp_path: Path) -> None:
    database = tmp_path / "var" / "registro.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:  # WAL mode: the -wal and -shm files exist while a connection is open
            connection.execute(text("CREATE TABLE t (x TEXT)"))
            connection.execute(text("INSERT INTO t VALUES ('Ana')"))
            files = [database, database.with_name("registro.db-wal"), database.with_name("registro.db-shm")]
            assert all(path.exists() for path in files)
            assert [mode(path) for path in files] == [0o600, 0o600, 0o600]
        assert mode(database.parent) == 0o700
    finally:
        engine.dispose()


@pytest.mark.usefixtures("permissive_umask")
def test_a_database_left_readable_by_an_earlier_run_is_tightened(tmp_path: Path) -> None:
    database = tmp_path / "registro.db"
    database.write_bytes(b"")
    database.chmod(0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert mode(database) == 0o600


@pytest.mark.usefixtures("permissive_umask")
def test_the_generated_development_secret_and_the_data_dir_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    settings = load_settings(env="test", data_dir=data_dir, secret_key="")
    assert (data_dir / "secret_key").read_text() == settings.secret_key
    assert (mode(data_dir), mode(data_dir / "secret_key")) == (0o700, 0o600)
