import io
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import Session, col, select

from capture.result import BackReading, ModelHint, MrzFields, MrzReading, QrReading, QrUrl, Reason
from core.audit import AuditEvent, OutboxMessage
from core.clock import utcnow
from registry.citizen import (
    AcknowledgementNeeded,
    SupportDraft,
    generate_code,
    give_support,
    open_aspirants,
    record_back_reading,
    statement_of_will,
)
from registry.citizen_supports import my_supports
from registry.claims import CLAIM_REASON
from registry.codes import CodeOutcome, CodeRefused, IssueRefusal, check_code
from registry.images import CleanImage, ImageStore, clean_image, open_image_store
from registry.intake.reading import BackDecode
from registry.intake.refusals import Refusal, Refused
from registry.models import (
    ActivationCode,
    Aspirant,
    CredentialReading,
    InconsistencyType,
    Process,
    ReviewDecision,
    Support,
    SupportEvent,
)
from registry.states import (
    Channel,
    ImageKind,
    ReadingSource,
    ReviewOutcome,
    SignatureMethod,
    SituacionRegistral,
    SupportStatus,
)
from registry.supports import SupportReceipt, record_transition
from tests.factories import add
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_process

SECRET = "citizen-test-secret-" + "z" * 30
QR_TEXT = "http://qr.ine.mx/126303106194403165147533/20170915/P/003660"
LIMITS = {"max_bytes": 15_000_000, "max_pixels": 50_000_000}


def back_image() -> CleanImage:
    return clean_image(jpeg(), kind=ImageKind.BACK, **LIMITS)


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
    decoded = BackDecode(reading=back_reading(), image=back_image())
    summary = record_back_reading(session=session, store=store, decoded=decoded, today=date(2026, 1, 1))
    row = session.get(CredentialReading, summary.reading_id)
    assert row is not None and row.back_image_id is not None
    assert (row.cic, row.qr_text, row.identificador_ciudadano, row.model_hint) == (
        "183657717", QR_TEXT, "116375842", "E-H")
    assert (summary.cic, summary.expiry, summary.typed) == ("183657717", date(2032, 12, 31), False)


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
    with pytest.raises(Refused) as refused:
        statement_of_will(session=session, aspirant_id=closed_aspirant.id, now=now)
    assert refused.value.code is Refusal.PROCESS_CLOSED


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
    with pytest.raises(Refused) as refused:
        support(session, account, second_code, aspirant, key="key-000000000000000002")
    assert refused.value.code is Refusal.ALREADY_SUPPORTED
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
    process = session.get(Process, aspirant.process_id)
    assert process is not None
    kind = InconsistencyType(opl_id=process.opl_id, code="firma", label_es="Firma ausente o no válida",
                             label_en="Missing signature")
    add(session, kind)
    add(session, ReviewDecision(support_id=receipt.support_id, reviewer_account_id=reviewer,
                                outcome=ReviewOutcome.INVALID, inconsistency_id=kind.id))
    stored = session.get(Support, receipt.support_id)
    assert stored is not None
    record_transition(session=session, support=stored, to_status=SupportStatus.INVALID,
                      situacion=SituacionRegistral.CON_INCONSISTENCIA, reason="firma", actor_account_id=reviewer,
                      now=utcnow())
    listed = my_supports(session=session, account_id=mine)
    assert [(s.folio, s.status, s.inconsistency_es) for s in listed] == [
        (receipt.folio, SupportStatus.INVALID, "Firma ausente o no válida")]
    assert my_supports(session=session, account_id=theirs, folio=receipt.folio) == []



def test_my_supports_shows_the_latest_decision_that_names_an_inconsistency(session: Session) -> None:
    """Read beside each support in the list's one query: a later inconsistency replaces an earlier one, and a later
    decision without one (valid at second level) leaves the last named reason."""
    aspirant, mine = make_aspirant(session), new_citizen(session)
    receipt = support(session, mine, code_for(session, mine), aspirant)
    reviewer = new_citizen(session, "Revisora Prueba", None)
    process = session.get(Process, aspirant.process_id)
    assert process is not None
    kinds = [add(session, InconsistencyType(opl_id=process.opl_id, code=code, label_es=label, label_en=label))
             for code, label in (("firma", "Firma ausente"), ("foto", "Foto borrosa"))]
    start = utcnow()
    for minutes, kind in ((1, kinds[1]), (2, kinds[0]), (3, None)):
        add(session, ReviewDecision(support_id=receipt.support_id, reviewer_account_id=reviewer,
                                    outcome=ReviewOutcome.VALID if kind is None else ReviewOutcome.INVALID,
                                    inconsistency_id=kind.id if kind else None,
                                    decided_at=start + timedelta(minutes=minutes)))
    assert [s.inconsistency_es for s in my_supports(session=session, account_id=mine)] == ["Firma ausente"]

def notice() -> tuple[str, str]:
    return "Tu credencial fue reclamada", "Aviso sin datos personales"


def test_a_claim_flags_the_earlier_accounts_supports_and_tells_it(session: Session) -> None:
    """An impostor bound the holder's CIC (with a QR of their own, as the typed path allowed) and gave support;
    the holder claims it with a full machine read of their own card."""
    aspirant = make_aspirant(session)
    impostor, holder = new_citizen(session, "Suplantadora Prueba", "suplanta@correo.mx"), new_citizen(session)
    given = support(session, impostor, code_for(session, impostor, qr=QR_TEXT + "7"), aspirant)
    held = add(session, CredentialReading(source=ReadingSource.PIPELINE, cic="183657717", qr_text=QR_TEXT))
    assert held.id is not None
    refused = generate_code(session=session, account_id=holder, reading_id=held.id, secret_key=SECRET,
                            now=utcnow(), compose=compose)
    assert refused.refusal is IssueRefusal.CREDENTIAL_TAKEN
    claimed = generate_code(session=session, account_id=holder, reading_id=held.id, secret_key=SECRET,
                            now=utcnow(), compose=compose, claim=True, notice=notice)
    assert claimed.issued is not None
    flagged = session.get(Support, given.support_id)
    assert flagged is not None and flagged.status is SupportStatus.IN_REVIEW
    event = session.exec(select(SupportEvent).where(SupportEvent.support_id == given.support_id)
                         .order_by(col(SupportEvent.id).desc())).first()
    assert event is not None and (event.reason, event.actor_account_id) == (CLAIM_REASON, holder)
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "credential_claimed")).one()
    assert (audit.actor_account_id, audit.object_id) == (holder, str(impostor))
    assert "183657717" not in audit.after_summary + audit.before_summary
    told = session.exec(select(OutboxMessage).where(OutboxMessage.to_address == "suplanta@correo.mx",
                                                    OutboxMessage.subject == "Tu credencial fue reclamada")).all()
    assert len(told) == 1


def test_a_claim_against_an_account_without_email_still_flags(session: Session) -> None:
    aspirant = make_aspirant(session)
    earlier, holder = new_citizen(session, "Sin Correo", None), new_citizen(session)
    given = support(session, earlier, code_for(session, earlier, qr=QR_TEXT + "7"), aspirant)
    held = add(session, CredentialReading(source=ReadingSource.PIPELINE, cic="183657717", qr_text=QR_TEXT))
    assert held.id is not None
    claimed = generate_code(session=session, account_id=holder, reading_id=held.id, secret_key=SECRET,
                            now=utcnow(), compose=compose, claim=True, notice=notice)
    assert claimed.issued is not None
    flagged = session.get(Support, given.support_id)
    assert flagged is not None and flagged.status is SupportStatus.IN_REVIEW
    assert [mail.subject for mail in session.exec(select(OutboxMessage)).all()] == ["Tu código"]  # the holder's
