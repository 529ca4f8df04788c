import io
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import Session, select

from capture.identifiers import parse_mrz_line1
from capture.result import BackReading, ModelHint, MrzFields, MrzReading, QrReading, QrUrl, Reason
from core.audit import OutboxMessage
from core.clock import utcnow
from registry.citizen import (
    AcknowledgementNeeded,
    SupportDraft,
    complete_with_cic,
    complete_with_mrz_line,
    generate_code,
    give_support,
    my_supports,
    open_aspirants,
    record_back_reading,
    statement_of_will,
)
from registry.codes import CodeOutcome, CodeRefused, check_code
from registry.images import ImageStore, open_image_store
from registry.models import ActivationCode, Aspirant, CredentialReading, InconsistencyType, ReviewDecision, Support
from registry.states import (
    Channel,
    ReadingSource,
    ReviewOutcome,
    SignatureMethod,
    SituacionRegistral,
    SupportStatus,
)
from registry.supports import Refusal, SupportReceipt, SupportRefused, record_transition
from tests.factories import add, make_account, make_aspirant, make_process

SECRET = "citizen-test-secret-" + "z" * 30
QR_TEXT = "http://qr.ine.mx/126303106194403165147533/20170915/P/003660"
LIMITS = {"max_bytes": 15_000_000, "max_pixels": 50_000_000}


def jpeg(width: int = 640, height: int = 400, shade: int = 180) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (shade, shade, shade)).save(buffer, "JPEG")
    return buffer.getvalue()


def back_reading(*, cic: str | None = "183657717", hint: ModelHint = ModelHint.E_TO_H) -> BackReading:
    fields = MrzFields(cic=cic, identificador_ciudadano="116375842", expiry=date(2032, 12, 31), model_hint=hint)
    mrz = MrzReading(fields=fields) if cic else MrzReading(reason=Reason.MRZ_UNREADABLE)
    return BackReading(qr=QrReading(url=QrUrl(text=QR_TEXT)), mrz=mrz)


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return open_image_store(tmp_path / "images", image_key="", secret_key=SECRET)


def compose(code: str, until: datetime) -> tuple[str, str]:
    return "Tu código", f"Código {code} hasta {until:%Y-%m-%d}"


def new_citizen(session: Session, name: str = "Ciudadana Prueba", email: str | None = "ciudadana@correo.mx") -> int:
    account = make_account(session, name=name, email=email)
    assert account.id is not None
    return account.id


def code_for(session: Session, account_id: int, cic: str = "183657717", qr: str = QR_TEXT) -> int:
    """A valid, checked code for this account's credential; returns its id."""
    reading = add(session, CredentialReading(source=ReadingSource.PIPELINE, cic=cic, qr_text=qr,
                                             identificador_ciudadano="116375842"))
    assert reading.id is not None
    result = generate_code(session=session, account_id=account_id, reading_id=reading.id, secret_key=SECRET,
                           now=utcnow(), compose=compose)
    assert result.issued is not None
    return result.issued.code_id


def draft(code_id: int, aspirant: Aspirant) -> SupportDraft:
    assert aspirant.id is not None
    return SupportDraft(code_id=code_id, aspirant_id=aspirant.id,
                        signature_method=SignatureMethod.ACCESSIBLE_ALTERNATIVE)


def support(session: Session, account_id: int, code_id: int, aspirant: Aspirant, key: str = "key-000000000000000001",
            acknowledged: bool = False) -> SupportReceipt:
    return give_support(session=session, account_id=account_id, draft=draft(code_id, aspirant), idempotency_key=key,
                        acknowledged_other_office=acknowledged, now=utcnow())


def test_the_back_photo_and_the_servers_reading_are_kept(session: Session, store: ImageStore) -> None:
    summary = record_back_reading(session=session, store=store, data=jpeg(), reading=back_reading(), **LIMITS)
    row = session.get(CredentialReading, summary.reading_id)
    assert row is not None and row.back_image_id is not None
    assert (row.cic, row.qr_text, row.identificador_ciudadano, row.model_hint) == (
        "183657717", QR_TEXT, "116375842", "E-H")
    assert (summary.cic, summary.expiry, summary.typed) == ("183657717", date(2032, 12, 31), False)


def test_a_typed_first_line_completes_a_reading_whose_mrz_failed(session: Session, store: ImageStore) -> None:
    summary = record_back_reading(session=session, store=store, data=jpeg(), reading=back_reading(cic=None),
                                  **LIMITS)
    assert summary.cic is None
    row = session.get(CredentialReading, summary.reading_id)
    assert row is not None
    row.model_hint = "E-H"
    line = parse_mrz_line1("IDMEX1836577177<<0747116375842")
    typed = complete_with_mrz_line(session=session, reading_id=summary.reading_id, line=line)
    assert (typed.cic, typed.typed) == ("183657717", True)
    assert (row.source, row.identificador_ciudadano, row.ocr) == (ReadingSource.MANUAL, "116375842", None)


def test_typed_digits_are_not_stored_under_a_guessed_name(session: Session) -> None:
    reading = add(session, CredentialReading(source=ReadingSource.PIPELINE, qr_text=QR_TEXT))
    assert reading.id is not None
    line = parse_mrz_line1("IDMEX1836577177<<0747116375842")
    complete_with_mrz_line(session=session, reading_id=reading.id, line=line)
    assert (reading.identificador_ciudadano, reading.ocr) == (None, None)
    complete_with_cic(session=session, reading_id=reading.id, cic="183657717")
    assert reading.cic == "183657717"


def test_the_new_code_is_mailed_to_the_accounts_address(session: Session) -> None:
    make_process(session)
    code_id = code_for(session, new_citizen(session))
    mail = session.exec(select(OutboxMessage)).one()
    assert mail.to_address == "ciudadana@correo.mx" and mail.subject == "Tu código"
    code = mail.body.split()[1].replace("-", "")
    account = session.get(ActivationCode, code_id)
    assert account is not None
    assert check_code(session=session, account_id=account.account_id, code=code, secret_key=SECRET,
                      now=utcnow()).outcome is CodeOutcome.VALID


def test_an_account_without_email_still_gets_its_code_on_screen(session: Session) -> None:
    make_process(session)
    code_for(session, new_citizen(session, email=None))
    assert session.exec(select(OutboxMessage)).all() == []


def test_only_open_processes_and_active_aspirants_are_offered(session: Session) -> None:
    now = utcnow()
    process = make_process(session)
    open_one = make_aspirant(session, process=process, name="Abierta Aspirante")
    make_aspirant(session, process=process, name="Inactiva Aspirante").is_active = False
    closed = make_process(session, opens=now - timedelta(days=20), closes=now - timedelta(days=1), name="Cerrado")
    future = make_process(session, opens=now + timedelta(days=1), closes=now + timedelta(days=20), name="Futuro")
    closed_aspirant = make_aspirant(session, process=closed, name="Cerrada Aspirante")
    make_aspirant(session, process=future, name="Futura Aspirante")
    session.flush()
    offered = open_aspirants(session=session, now=now)
    assert [choice.aspirant_id for choice in offered] == [open_one.id]
    assert (offered[0].office, offered[0].process_name) == ("Gubernatura", "Gubernatura 2027")
    assert closed_aspirant.id is not None
    with pytest.raises(SupportRefused) as refused:
        statement_of_will(session=session, aspirant_id=closed_aspirant.id, now=now)
    assert refused.value.refusal is Refusal.PROCESS_CLOSED


def test_giving_support_consumes_the_code_and_stores_a_citizen_support(session: Session) -> None:
    aspirant, account = make_aspirant(session), new_citizen(session)
    code_id = code_for(session, account)
    receipt = support(session, account, code_id, aspirant)
    stored = session.get(Support, receipt.support_id)
    assert stored is not None and receipt.created and receipt.counts_for_aspirant
    assert (stored.channel, stored.citizen_account_id, stored.cic) == (Channel.CITIZEN, account, "183657717")
    assert stored.signature_method is SignatureMethod.ACCESSIBLE_ALTERNATIVE
    code = session.get(ActivationCode, code_id)
    assert code is not None and code.used_at is not None


def test_the_same_key_again_returns_the_same_folio(session: Session) -> None:
    aspirant, account = make_aspirant(session), new_citizen(session)
    code_id = code_for(session, account)
    first = support(session, account, code_id, aspirant)
    again = support(session, account, code_id, aspirant)
    assert (again.folio, again.created) == (first.folio, False)
    assert len(session.exec(select(Support)).all()) == 1


def test_supporting_the_same_aspirant_twice_is_refused_and_the_new_code_kept(session: Session) -> None:
    aspirant, account = make_aspirant(session), new_citizen(session)
    support(session, account, code_for(session, account), aspirant)
    second_code = code_for(session, account)
    with pytest.raises(SupportRefused) as refused:
        support(session, account, second_code, aspirant, key="key-000000000000000002")
    assert refused.value.refusal is Refusal.ALREADY_SUPPORTED
    code = session.get(ActivationCode, second_code)
    assert code is not None and code.used_at is None


def test_a_second_aspirant_for_the_same_office_needs_the_citizen_to_acknowledge(session: Session) -> None:
    process = make_process(session)
    first, second = make_aspirant(session, process=process), make_aspirant(session, process=process, name="Otra Más")
    account = new_citizen(session)
    support(session, account, code_for(session, account), first)
    code_id = code_for(session, account)
    with pytest.raises(AcknowledgementNeeded):
        support(session, account, code_id, second, key="key-000000000000000002")
    receipt = support(session, account, code_id, second, key="key-000000000000000002", acknowledged=True)
    assert receipt.created and not receipt.counts_for_aspirant


def test_an_expired_code_gives_no_support(session: Session) -> None:
    aspirant, account = make_aspirant(session), new_citizen(session)
    code_id = code_for(session, account)
    with pytest.raises(CodeRefused) as refused:
        give_support(session=session, account_id=account, draft=draft(code_id, aspirant),
                     idempotency_key="key-000000000000000003", acknowledged_other_office=False,
                     now=utcnow() + timedelta(hours=25))
    assert refused.value.outcome is CodeOutcome.EXPIRED
    assert session.exec(select(Support)).all() == []


def test_my_supports_lists_only_mine_with_status_and_reason(session: Session) -> None:
    aspirant, mine, theirs = make_aspirant(session), new_citizen(session), new_citizen(session, "Otra Persona", None)
    receipt = support(session, mine, code_for(session, mine), aspirant)
    support(session, theirs, code_for(session, theirs, cic="222222222", qr=QR_TEXT + "9"), aspirant,
            key="key-000000000000000009")
    reviewer = new_citizen(session, "Revisora Prueba", None)
    add(session, InconsistencyType(code="firma", label_es="Firma ausente o no válida", label_en="Missing signature"))
    add(session, ReviewDecision(support_id=receipt.support_id, reviewer_account_id=reviewer,
                                outcome=ReviewOutcome.INVALID, inconsistency_code="firma"))
    stored = session.get(Support, receipt.support_id)
    assert stored is not None
    record_transition(session=session, support=stored, to_status=SupportStatus.INVALID,
                      situacion=SituacionRegistral.CON_INCONSISTENCIA, reason="firma", actor_account_id=reviewer,
                      now=utcnow())
    listed = my_supports(session=session, account_id=mine)
    assert [(s.folio, s.status, s.inconsistency_es) for s in listed] == [
        (receipt.folio, SupportStatus.INVALID, "Firma ausente o no válida")]
    assert my_supports(session=session, account_id=theirs, folio=receipt.folio) == []
