"""Revision 0007 seals the personal columns of rows stored in clear before it, and indexes them, on the database
the suite runs on (a database of its own: SQLite file, or a fresh PostgreSQL database)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, select

from core.db import make_engine
from core.sealing import blind_index, install_sealer, sealer_from_settings
from core.settings import Environment, Settings
from registry import migrate
from registry.models import CredentialReading, PaperForm, RollEntry, Support
from registry.verify_support import find_supports

CLAVE, CIC, OCR, IDC = "GOMLRS90010126H100", "123456789", "0747116375842", "116375842"
AT = "2026-11-01 10:00:00+00:00"


@pytest.fixture
def fresh_engine(tmp_path: Path) -> Iterator[Engine]:
    install_sealer(sealer_from_settings(Settings(env=Environment.TEST, secret_key="x" * 40)))  # as the suite's
    base = os.environ.get("REGISTRO_TEST_DATABASE_URL")
    if not base:
        engine = make_engine(f"sqlite:///{tmp_path / 'before.db'}")
        yield engine
        engine.dispose()
        return
    url = make_url(base)
    name = f"{url.database}_sealing_{os.getpid()}"
    admin = make_engine(url.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(url.set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _upgrade(engine: Engine, revision: str) -> None:
    config = migrate.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


_ROWS = (
    "INSERT INTO opl (id, name, short_name, state_code) VALUES (1, 'IEE', 'IEE', 26)",
    "INSERT INTO process (id, opl_id, name, office, scope_kind, scope_state, starts_at, ends_at, timezone, "
    "threshold_percent, created_at) VALUES (1, 1, 'P', 'Gubernatura', 'state', 26, :at, :at, 'UTC', 3, :at)",
    "INSERT INTO aspirant (id, process_id, full_name, email, is_active, created_at) "
    "VALUES (1, 1, 'A', 'a@x.mx', true, :at)",
    "INSERT INTO credentialreading (id, source, cic, ocr, identificador_ciudadano, clave_elector, qr_text, "
    "created_at) VALUES (1, 'manual', :cic, :ocr, :idc, :clave, 'http://qr.ine.mx/1/20300101/P/000001', :at)",
    "INSERT INTO support (id, folio, idempotency_key, process_id, aspirant_id, channel, reading_id, cic, "
    "clave_elector, citizen_key, signature_method, manual_capture, device_time_suspect, captured_at, received_at, "
    "status, situacion_registral, updated_at) VALUES (1, 'RC-1', 'k-1', 1, 1, 'paper', 1, :cic, :clave, :clave, "
    "'drawn', false, false, :at, :at, 'valid', 'en_lista_nominal', :at)",
    "INSERT INTO paperform (id, support_id, aspirant_id, numero_referencia, nombre, apellido_paterno, "
    "apellido_materno, comentario, created_at) VALUES (1, 1, 1, 'F-1', 'ROSAURA', 'GOMEZ', '', '', :at)",
    "INSERT INTO rollimport (id, opl_id, source_name, cutoff_date, row_count, imported_at, state, "
    "rows_rejected, format_label) VALUES (1, 1, 'l.csv', '2026-10-31', 1, :at, 'current', 0, '')",
    "INSERT INTO rollentry (roll_import_id, clave_elector, source_line, cic, ocr, identificador_ciudadano, nombre, "
    "apellido_paterno, apellido_materno, state_code, district, municipality, seccion, status) "
    "VALUES (1, :clave, 2, :cic, :ocr, :idc, 'ROSAURA', 'GOMEZ', '', 26, 5, 30, 1001, 'vigente')",
)


def test_rows_stored_in_clear_are_sealed_and_indexed(fresh_engine: Engine) -> None:
    _upgrade(fresh_engine, "0006")
    with fresh_engine.begin() as connection:
        for statement in _ROWS:
            connection.execute(text(statement), {"at": AT, "cic": CIC, "ocr": OCR, "idc": IDC, "clave": CLAVE})
    _upgrade(fresh_engine, "0007")
    with fresh_engine.connect() as connection:
        stored = " ".join(str(value) for table in ("support", "credentialreading", "paperform")
                          for row in connection.execute(text(f"SELECT * FROM {table}")).all() for value in row)
    assert not any(value in stored for value in (CLAVE, CIC, OCR, IDC, "ROSAURA", "GOMEZ"))
    _upgrade(fresh_engine, "head")
    with Session(fresh_engine) as session:
        support = session.get(Support, 1)
        assert support is not None and (support.cic, support.clave_elector) == (CIC, CLAVE)
        assert support.citizen_key == blind_index(CLAVE, "clave_elector")
        reading = session.get(CredentialReading, 1)
        assert reading is not None and (reading.ocr, reading.identificador_ciudadano) == (OCR, IDC)
        assert session.exec(select(PaperForm.nombre)).one() == "ROSAURA"
        entry = session.exec(select(RollEntry)).one()
        assert entry.cic_bidx == blind_index(CIC, "cic") and entry.clave_elector_bidx == support.citizen_key
        assert [found.support_id for found in find_supports(session=session, clave=CLAVE, cic=CIC)] == [1]
