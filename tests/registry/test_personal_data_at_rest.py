"""Personal columns sealed at rest: the database holds no clave, CIC or name in clear, and the app still finds
duplicates, runs the compulsa and answers «Verifica tu apoyo»; keys rotate online; retention erases a closed
process's personal data and keeps its figures."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from core.audit import AuditEvent
from core.clock import utcnow
from core.sealing import Sealer, SealingError, current_sealer, install_sealer
from registry.images import ImageNotFound, open_image_store
from registry.intake.refusals import Refusal
from registry.key_rotation import rotate
from registry.models import (
    ActivationCode,
    Aspirant,
    CredentialReading,
    PaperExceptionMunicipality,
    PaperForm,
    Process,
    StoredImage,
    Support,
)
from registry.reports.figures import summary
from registry.retention import PurgeRefusal, PurgeRefused, purge_process
from registry.states import Channel, ImageKind, SituacionRegistral
from registry.supports import find_conflict
from registry.verification.compulsa import verify_process
from registry.verify_support import find_supports
from tests.factories import add
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import Citizen, citizen, make_roll, place_support

NAME = "ROSAURA"


@pytest.fixture
def keys() -> object:
    """Tests here install sealers of their own; the suite's is put back afterwards."""
    suite = current_sealer()
    yield suite
    install_sealer(suite)


def _world(session: Session, *, ended_days_ago: int | None = None) -> tuple[Process, Aspirant, Citizen, Support]:
    opl = make_opl(session)
    now = utcnow()
    closes = now - timedelta(days=ended_days_ago) if ended_days_ago is not None else None
    opens = closes - timedelta(days=40) if closes is not None else None
    process = make_process(session, opl=opl, opens=opens, closes=closes)
    aspirant = make_aspirant(session, process=process)
    person = citizen()
    make_roll(session, opl=opl, citizens=[person])
    assert aspirant.id is not None and process.id is not None
    add(session, PaperExceptionMunicipality(process_id=process.id, municipality=person.municipality))
    support = place_support(session, aspirant_id=aspirant.id, process_id=process.id, cic=person.cic,
                            clave_elector=person.clave_elector, ocr=person.ocr,
                            identificador=person.identificador_ciudadano, channel=Channel.PAPER,
                            received_at=process.starts_at + timedelta(days=1))
    add(session, PaperForm(support_id=support.id or 0, aspirant_id=aspirant.id, numero_referencia="F-1",
                           nombre=NAME, apellido_paterno="GOMEZ", apellido_materno="LUNA"))
    verify_process(session=session, process_id=process.id, now=utcnow())
    session.commit()
    return process, aspirant, person, support


def _raw_text(engine: Engine, table: str) -> str:
    with engine.connect() as connection:
        rows = connection.execute(text(f"SELECT * FROM {table}")).all()
    return " ".join(str(value) for row in rows for value in row)


def test_the_database_holds_no_clave_cic_or_name_in_clear(engine: Engine, session: Session) -> None:
    _process, _aspirant, person, support = _world(session)
    stored = " ".join(_raw_text(engine, table) for table in ("support", "credentialreading", "paperform"))
    for secret in (person.clave_elector, person.cic, person.ocr, person.identificador_ciudadano, NAME, "GOMEZ"):
        assert secret not in stored
    session.expire_all()
    fresh = session.get(Support, support.id)
    assert fresh is not None and (fresh.cic, fresh.clave_elector) == (person.cic, person.clave_elector)
    assert fresh.situacion_registral is SituacionRegistral.EN_LISTA_NOMINAL  # the compulsa matched, sealed
    assert fresh.citizen_key is not None and person.clave_elector not in fresh.citizen_key


def test_duplicates_and_verifica_tu_apoyo_find_the_sealed_support(session: Session) -> None:
    process, aspirant, person, support = _world(session)
    assert process.id is not None and aspirant.id is not None
    refusal, _other = find_conflict(session=session, aspirant_id=aspirant.id, process_id=process.id,
                                    cic=person.cic.lower(), clave_elector=None)
    assert refusal is Refusal.ALREADY_SUPPORTED
    found = find_supports(session=session, clave=person.clave_elector, cic=person.cic)
    assert [item.support_id for item in found] == [support.id]
    assert find_supports(session=session, clave=citizen().clave_elector, cic=citizen().cic) == []


def test_a_value_moved_to_another_column_does_not_open(engine: Engine, session: Session) -> None:
    _process, _aspirant, _person, support = _world(session)
    with engine.begin() as connection:
        connection.execute(text("UPDATE support SET clave_elector = cic WHERE id = :id"), {"id": support.id})
    with Session(engine) as other, pytest.raises(SealingError):
        other.get(Support, support.id)


def test_rotation_reseals_every_value_and_the_app_still_reads_it(engine: Engine, session: Session,
                                                                 keys: Sealer) -> None:
    process, aspirant, person, support = _world(session)
    account = make_account(session)
    assert account.id is not None
    add(session, ActivationCode(account_id=account.id, code_hash="h" * 64, cic=person.cic,
                                qr_text="http://qr.ine.mx/1/20300101/P/000001", expires_at=utcnow()))
    session.commit()
    new_key, new_index = os.urandom(32), os.urandom(32)
    install_sealer(Sealer(keys={**keys.keys, "2027": new_key}, current_key_id="2027", index_key=new_index,
                          previous_index_keys=(keys.index_key,)))
    seen: list[tuple[str, int, int]] = []
    results = rotate(engine, progress=lambda *step: seen.append(step), batch_rows=10)
    assert {result.table for result in results if result.rewritten} >= {"support", "credentialreading",
                                                                        "paperform", "activationcode", "rollentry"}
    assert seen  # progress printed batch by batch
    assert all(result.rewritten == 0 for result in rotate(engine, progress=lambda *_: None))  # idempotent
    # only the new keys from here on: the old data key and index key are gone
    install_sealer(Sealer(keys={"2027": new_key}, current_key_id="2027", index_key=new_index))
    assert process.id is not None and aspirant.id is not None
    verify_process(session=session, process_id=process.id, now=utcnow())  # citizen keys follow the new index
    session.commit()
    with Session(engine) as fresh:
        reread = fresh.get(Support, support.id)
        assert reread is not None and reread.clave_elector == person.clave_elector
        form = fresh.exec(select(PaperForm)).one()
        assert (form.nombre, form.apellido_materno) == (NAME, "LUNA")
        assert reread.situacion_registral is SituacionRegistral.EN_LISTA_NOMINAL
    refusal, _other = find_conflict(session=session, aspirant_id=aspirant.id, process_id=process.id,
                                    cic=person.cic, clave_elector=None)
    assert refusal is Refusal.ALREADY_SUPPORTED
    assert [item.support_id for item in find_supports(session=session, clave=person.clave_elector,
                                                      cic=person.cic)] == [support.id]


def _image(session: Session, store: object, support: Support) -> str:
    key = store.put(b"live photo bytes")  # type: ignore[attr-defined]
    image = add(session, StoredImage(sha256="0" * 64, kind=ImageKind.LIVE_PHOTO, storage_key=key, byte_size=16,
                                     width=1, height=1))
    support.live_photo_id = image.id
    session.add(support)
    session.commit()
    return str(key)


def test_retention_erases_personal_data_and_keeps_the_figures(engine: Engine, session: Session,
                                                              tmp_path: Path) -> None:
    process, _aspirant, person, support = _world(session, ended_days_ago=400)
    store = open_image_store(tmp_path / "images", image_key="", secret_key="s" * 40)
    key = _image(session, store, support)
    assert process.id is not None
    figures = summary(session=session, process_id=process.id)
    with pytest.raises(PurgeRefused) as early:
        purge_process(session=session, store=store, process_id=process.id, now=utcnow(), retention_days=1000)
    assert early.value.reason is PurgeRefusal.PERIOD_NOT_OVER
    dry = purge_process(session=session, store=store, process_id=process.id, now=utcnow(), retention_days=365,
                        dry_run=True)
    assert (dry.supports, dry.readings, dry.paper_forms, dry.images) == (1, 1, 1, 1)
    assert store.get(key)  # a dry run changes nothing
    purge_process(session=session, store=store, process_id=process.id, now=utcnow(), retention_days=365)
    session.commit()
    with pytest.raises(ImageNotFound):
        store.get(key)
    session.expire_all()
    assert summary(session=session, process_id=process.id) == figures
    fresh = session.get(Support, support.id)
    assert fresh is not None and (fresh.cic, fresh.clave_elector, fresh.citizen_key) == (None, None, None)
    assert fresh.situacion_registral is SituacionRegistral.EN_LISTA_NOMINAL
    reading = session.get(CredentialReading, fresh.reading_id)
    assert reading is not None and (reading.cic, reading.ocr, reading.identificador_ciudadano) == (None,) * 3
    assert session.exec(select(PaperForm.nombre)).one() == ""
    assert find_supports(session=session, clave=person.clave_elector, cic=person.cic) == []
    again = purge_process(session=session, store=store, process_id=process.id, now=utcnow(), retention_days=365)
    assert again.nothing_left
    session.commit()
    purges = session.exec(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "retention_purge")).one()
    assert purges == 1  # one audit row, however often it runs


def test_a_corrected_identifier_is_found_by_its_new_index(session: Session) -> None:
    process, aspirant, person, support = _world(session)
    assert process.id is not None and aspirant.id is not None
    corrected = citizen()
    support.cic = corrected.cic  # e.g. a typed CIC fixed: the ORM keeps the blind index in step
    session.add(support)
    session.commit()
    conflict = find_conflict(session=session, aspirant_id=aspirant.id, process_id=process.id, cic=corrected.cic,
                             clave_elector=None)
    assert conflict[0] is Refusal.ALREADY_SUPPORTED
    stale = find_conflict(session=session, aspirant_id=aspirant.id, process_id=process.id, cic=person.cic,
                          clave_elector=None)
    assert stale == (None, None)
