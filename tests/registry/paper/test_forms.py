"""One paper form typed by the OPL's staff: validation (every problem, by field), the capture through the one
intake, the same form twice stored once, the OPL's own inconsistency as a decision, the staff's OPL scope, and
the compulsa afterwards (fuera del régimen de excepción outside the authorised municipalities)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from auth.roles import Role
from core.clock import utcnow
from registry.images import ImageStore, clean_image, open_image_store
from registry.models import (
    Aspirant,
    CredentialReading,
    PaperExceptionMunicipality,
    PaperForm,
    Process,
    ReviewDecision,
    StoredImage,
    Support,
    SupportEvent,
)
from registry.paper.forms import (
    Captured,
    InvalidPaper,
    NotFound,
    PaperCapture,
    PaperEntry,
    Problem,
    capture_paper_form,
    validate_entry,
)
from registry.states import Channel, ImageKind, ReadingSource, ReviewOutcome, SituacionRegistral, SupportStatus
from registry.verification.runs import verify_pending
from tests.factories import add
from tests.factories.accounts import make_account
from tests.factories.paper import entry_for, paper_citizen
from tests.factories.photos import plain_photo
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import make_roll

TODAY = date(2026, 11, 30)


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return open_image_store(tmp_path / "images", image_key="", secret_key="s" * 40)


@pytest.fixture
def staff(session: Session, process: Process) -> int:
    account = make_account(session, role=Role.OPL_ADMIN, opl_id=process.opl_id)
    assert account.id is not None
    return account.id


def capture(session: Session, store: ImageStore, aspirant: Aspirant, entry: PaperEntry, staff: int,
            opl_ids: frozenset[int] | None = None, **extra: object) -> Captured:
    assert aspirant.id is not None
    process = session.get(Process, aspirant.process_id)
    assert process is not None
    result = capture_paper_form(session=session, capture=PaperCapture(aspirant_id=aspirant.id, entry=entry,
                                                                      **extra),  # type: ignore[arg-type]
                                opl_ids=opl_ids or frozenset({process.opl_id}), store=store,
                                actor_account_id=staff, now=utcnow())
    session.commit()
    return result


def problems_of(entry: PaperEntry) -> set[tuple[str, Problem]]:
    _clean, problems = validate_entry(entry, types={}, today=TODAY)
    return {(p.field, p.problem) for p in problems}


@pytest.mark.parametrize(("changes", "expected"), [
    ({"numero_referencia": "  "}, ("numero_referencia", Problem.REQUIRED)),
    ({"nombre": ""}, ("nombre", Problem.REQUIRED)),
    ({"apellido_paterno": "", "apellido_materno": ""}, ("apellido_paterno", Problem.NO_SURNAME)),
    ({"clave_elector": "LOPEMA900102"}, ("clave_elector", Problem.CLAVE_LENGTH)),
    ({"clave_elector": "LOPEMA9001022XH100"}, ("clave_elector", Problem.CLAVE_FORMAT)),
    ({"clave_elector": "LOPEMA90139926H100"}, ("clave_elector", Problem.CLAVE_DATE)),
    ({"clave_elector": "LOPEMA90010299H100"}, ("clave_elector", Problem.CLAVE_STATE)),
    ({"ocr": "12345"}, ("ocr", Problem.OCR_LENGTH)),
    ({"ocr": "12345678901AB"}, ("ocr", Problem.OCR_DIGITS)),
    ({"ocr": "9" * 5000}, ("ocr", Problem.TOO_LONG)),
    ({"nombre": "MAR\x00IA"}, ("nombre", Problem.BAD_CHARACTER)),
    ({"tipo_inconsistencia": "no_existe"}, ("tipo_inconsistencia", Problem.UNKNOWN_TYPE)),
])
def test_each_field_is_checked_with_its_reason(changes: dict[str, str], expected: tuple[str, Problem]) -> None:
    assert expected in problems_of(entry_for(paper_citizen(), "F-1", **changes))


def test_every_problem_is_reported_at_once_and_one_surname_is_enough() -> None:
    bad = PaperEntry(numero_referencia="", nombre="", clave_elector="X", ocr="1")
    assert {field for field, _ in problems_of(bad)} == {"numero_referencia", "nombre", "apellido_paterno",
                                                        "clave_elector", "ocr"}
    assert problems_of(entry_for(paper_citizen(), "F-1", apellido_paterno="")) == set()


def test_a_form_is_stored_through_the_intake_as_a_paper_support(
        session: Session, store: ImageStore, aspirant: Aspirant, staff: int) -> None:
    person = paper_citizen()
    photo = clean_image(plain_photo(), kind=ImageKind.PAPER_FORM, max_bytes=10**7, max_pixels=10**8)
    result = capture(session, store, aspirant, entry_for(person, "f-7 ", clave_elector=person.clave_elector.lower()),
                     staff, form_image=photo)
    assert result.created
    support = session.exec(select(Support).where(Support.folio == result.folio)).one()
    reading = session.get(CredentialReading, support.reading_id)
    form = session.exec(select(PaperForm).where(PaperForm.support_id == support.id)).one()
    assert (support.channel, support.clave_elector, support.status) == (Channel.PAPER, person.clave_elector,
                                                                        SupportStatus.RECEIVED)
    assert reading is not None and (reading.source, reading.ocr) == (ReadingSource.PAPER, person.ocr)
    assert (form.numero_referencia, form.apellido_paterno, form.captured_by_account_id) == ("F-7", "LÓPEZ", staff)
    image = session.get(StoredImage, form.form_image_id)
    assert image is not None and image.kind is ImageKind.PAPER_FORM


def test_the_same_form_twice_is_stored_once_and_other_data_under_its_reference_is_refused(
        session: Session, store: ImageStore, aspirant: Aspirant, staff: int) -> None:
    person = paper_citizen()
    first = capture(session, store, aspirant, entry_for(person, "F-1"), staff)
    again = capture(session, store, aspirant, entry_for(person, "F-1"), staff)
    assert (again.folio, again.created) == (first.folio, False)
    with pytest.raises(InvalidPaper) as refused:
        capture(session, store, aspirant, entry_for(person, "F-1", nombre="OTRA"), staff)
    assert refused.value.folio == first.folio
    assert [p.problem for p in refused.value.problems] == [Problem.REFERENCE_TAKEN]
    assert len(session.exec(select(Support)).all()) == 1


def test_a_repeated_citizen_on_paper_is_stored_for_the_compulsa_to_count_as_a_duplicate(
        session: Session, store: ImageStore, aspirant: Aspirant, staff: int) -> None:
    person = paper_citizen()
    capture(session, store, aspirant, entry_for(person, "F-1"), staff)
    second = capture(session, store, aspirant, entry_for(person, "F-2"), staff)
    assert second.created
    assert len(session.exec(select(Support)).all()) == 2


def test_the_opls_own_inconsistency_makes_the_support_invalid_with_its_decision(
        session: Session, store: ImageStore, aspirant: Aspirant, staff: int) -> None:
    with pytest.raises(InvalidPaper) as refused:
        capture(session, store, aspirant, entry_for(paper_citizen(), "F-1", tipo_inconsistencia="otro"), staff)
    assert [(p.field, p.problem) for p in refused.value.problems] == [("comentario", Problem.COMMENT_REQUIRED)]

    result = capture(session, store, aspirant, entry_for(paper_citizen(), "F-2", tipo_inconsistencia="Fotocopia de la "
                                                         "credencial"), staff)
    support = session.exec(select(Support).where(Support.folio == result.folio)).one()
    decision = session.exec(select(ReviewDecision).where(ReviewDecision.support_id == support.id)).one()
    assert (support.status, support.situacion_registral) == (SupportStatus.INVALID,
                                                             SituacionRegistral.CON_INCONSISTENCIA)
    assert (decision.outcome, decision.reviewer_account_id) == (ReviewOutcome.INVALID, staff)
    events = session.exec(select(SupportEvent).where(SupportEvent.support_id == support.id)).all()
    assert [e.to_status for e in events] == [SupportStatus.RECEIVED, SupportStatus.INVALID]


def test_staff_cannot_capture_for_an_aspirant_of_another_opl(
        session: Session, store: ImageStore, staff: int) -> None:
    elsewhere = make_aspirant(session, process=make_process(session, opl=make_opl(session)))
    mine = frozenset({make_opl(session).id or 0})
    with pytest.raises(NotFound):
        capture(session, store, elsewhere, entry_for(paper_citizen(), "F-1"), staff, opl_ids=mine)
    assert session.exec(select(Support)).all() == []


def test_after_the_compulsa_paper_from_an_unauthorised_municipality_is_fuera_regimen_excepcion(
        session: Session, store: ImageStore, process: Process, aspirant: Aspirant, staff: int,
        app_engine: Engine) -> None:
    from registry.models import Opl

    opl = session.get(Opl, process.opl_id)
    assert opl is not None and process.id is not None
    authorised, other = paper_citizen(municipality=4), paper_citizen(municipality=30)
    make_roll(session, opl=opl, citizens=[authorised, other])
    add(session, PaperExceptionMunicipality(process_id=process.id, municipality=4))
    session.commit()
    inside = capture(session, store, aspirant, entry_for(authorised, "F-1"), staff)
    outside = capture(session, store, aspirant, entry_for(other, "F-2"), staff)

    assert verify_pending(app_engine, lambda: utcnow() + timedelta(seconds=1), limit=100) == 2
    session.expire_all()
    by_folio = {s.folio: s for s in session.exec(select(Support)).all()}
    assert by_folio[inside.folio].situacion_registral is SituacionRegistral.EN_LISTA_NOMINAL
    assert by_folio[outside.folio].situacion_registral is SituacionRegistral.FUERA_REGIMEN_EXCEPCION
    assert by_folio[outside.folio].status is SupportStatus.INVALID
