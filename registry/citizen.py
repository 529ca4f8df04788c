"""Registro Ciudadano, the citizen's side: what the server read from the credential's back, the activation code
and its e-mail, the aspirants open for support now, the support itself (ending in `submit_support`); the
citizen's own list of supports is registry.citizen_supports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from auth.models import Account
from capture.result import Reason
from registry.claims import NoticeComposer, settle_claim
from registry.codes import (
    DEFAULT_POLICY,
    CodeOutcome,
    CodePolicy,
    CodeRefused,
    IssueResult,
    consume_open_code,
    display_code,
    issue_code,
    open_code,
    usable_code,
    window_open,
)
from registry.images import ImageStore, store_image
from registry.intake.credential import CredentialData, credential_from_reading, store_reading
from registry.intake.reading import BackDecode
from registry.intake.receipts import stored_support
from registry.intake.refusals import Refusal, Refused
from registry.models import (
    ActivationCode,
    Aspirant,
    CredentialReading,
    Opl,
    Process,
)
from registry.outbox import queue_mail
from registry.states import (
    Channel,
    ReadingSource,
    SignatureMethod,
)
from registry.supports import (
    Prechecked,
    SupportReceipt,
    SupportSubmission,
    find_conflict,
    is_open,
    submit_support,
)

# (code as displayed, when it stops working) -> (subject, body): the web layer writes it in the user's language.
MailComposer = Callable[[str, datetime], tuple[str, str]]


@dataclass(frozen=True)
class ReceiptFacts:
    """What the receipt e-mail of a support says: nothing that identifies the credential (no CIC, no clave)."""

    folio: str
    aspirant_name: str
    office: str
    process_name: str
    received_at: datetime
    counts_for_aspirant: bool


ReceiptComposer = Callable[[ReceiptFacts], tuple[str, str]]


@dataclass(frozen=True)
class ReadingSummary:
    """What the citizen is shown to confirm: the CIC read from the MRZ and the vigencia (`typed` only for a
    reading completed by hand before self-service stopped accepting typed identifiers: it gets no code)."""

    reading_id: int
    cic: str | None
    expiry: date | None
    typed: bool


def record_back_reading(*, session: Session, store: ImageStore, decoded: BackDecode, today: date) -> ReadingSummary:
    """Keep the back photo and the server's reading of it, for an activation code: the intake's credential record
    (the MRZ read with its check digits held, and vigente), and the small QR besides (no code without it). Raises
    Refused: BAD_IMAGE, CREDENTIAL_EXPIRED or UNREADABLE. The photo was decoded and cleaned beforehand, once, outside
    the transaction (registry.intake.reading)."""
    credential = credential_from_reading(decoded.reading, None, today=today)
    if not decoded.reading.qr_ok or decoded.image is None:
        raise Refused(Refusal.UNREADABLE, reason=decoded.reading.reason or Reason.QR_UNREADABLE)
    stored = store_image(session=session, store=store, image=decoded.image)
    return _summary(store_reading(session, replace(credential.data, back_image_id=stored.id)))


def _summary(row: CredentialReading) -> ReadingSummary:
    assert row.id is not None
    return ReadingSummary(reading_id=row.id, cic=row.cic, expiry=row.expiry, typed=row.source is ReadingSource.MANUAL)


def reading_summary(*, session: Session, reading_id: int) -> ReadingSummary | None:
    row = session.get(CredentialReading, reading_id)
    return _summary(row) if row is not None else None


def generate_code(*, session: Session, account_id: int, reading_id: int, secret_key: str, now: datetime,
                  compose: MailComposer, policy: CodePolicy = DEFAULT_POLICY, claim: bool = False,
                  notice: NoticeComposer | None = None) -> IssueResult:
    """Issue the activation code and queue its e-mail in the same transaction (sent after commit). With `claim`
    (and `notice`), a credential bound to another account moves here; see registry.claims for what follows."""
    result = issue_code(session=session, account_id=account_id, reading_id=reading_id, secret_key=secret_key,
                        now=now, policy=policy, claim=claim and notice is not None)
    if result.released and notice is not None:
        settle_claim(session=session, claimant_id=account_id, released=result.released, now=now, compose=notice)
    account = session.get(Account, account_id)
    if result.issued is not None and account is not None and account.email:
        subject, body = compose(display_code(result.issued.code), result.issued.expires_at)
        queue_mail(session=session, to_address=account.email, subject=subject, body=body)
    return result


@dataclass(frozen=True)
class AspirantChoice:
    aspirant_id: int
    aspirant_name: str
    office: str
    process_name: str
    opl_name: str
    closes_at: datetime


def open_aspirants(*, session: Session, now: datetime) -> list[AspirantChoice]:
    """Active aspirants whose process collects support right now (the scope is checked later, on the roll)."""
    rows = session.exec(
        select(Aspirant, Process, Opl).join(Process, col(Process.id) == Aspirant.process_id)
        .join(Opl, col(Opl.id) == Process.opl_id)
        .where(col(Aspirant.is_active).is_(True), Process.starts_at <= now, Process.ends_at >= now)
        .order_by(col(Process.name), col(Aspirant.full_name))
    ).all()
    return [_choice(aspirant, process, opl) for aspirant, process, opl in rows]


def _choice(aspirant: Aspirant, process: Process, opl: Opl) -> AspirantChoice:
    assert aspirant.id is not None
    return AspirantChoice(aspirant_id=aspirant.id, aspirant_name=aspirant.full_name, office=process.office,
                          process_name=process.name, opl_name=opl.name, closes_at=process.ends_at)


def statement_of_will(*, session: Session, aspirant_id: int, now: datetime) -> AspirantChoice:
    """Who, for which office, in which process: what the statement names. Raises Refused when that
    aspirant cannot be supported now."""
    row = session.exec(select(Aspirant, Process, Opl).join(Process, col(Process.id) == Aspirant.process_id)
                       .join(Opl, col(Opl.id) == Process.opl_id).where(Aspirant.id == aspirant_id)).first()
    return _statement(*(row or (None, None, None)), now=now)[0]


def _statement(aspirant: Aspirant | None, process: Process | None, opl: Opl | None, *,
               now: datetime) -> tuple[AspirantChoice, Aspirant]:
    if aspirant is None or process is None or opl is None or not aspirant.is_active:
        raise Refused(Refusal.ASPIRANT_NOT_FOUND)
    if not is_open(process, now):
        raise Refused(Refusal.PROCESS_CLOSED)
    return _choice(aspirant, process, opl), aspirant


@dataclass(frozen=True)
class SupportDraft:
    """What the citizen gathered step by step (ids the server itself stored and signed into the form)."""

    code_id: int
    aspirant_id: int
    front_image_id: int | None = None
    live_photo_id: int | None = None
    signature_image_id: int | None = None
    signature_method: SignatureMethod = SignatureMethod.DRAWN


@dataclass(frozen=True)
class ConflictView:
    already_supported: bool
    earlier_aspirant_name: str | None  # supported earlier for the same office: only that one counts


class AcknowledgementNeeded(Exception):
    """The citizen already supported another aspirant for this office and has not said they understand."""


def _conflict_view(session: Session, code: ActivationCode, aspirant: Aspirant) -> ConflictView:
    assert aspirant.id is not None
    refusal, earlier = find_conflict(session=session, aspirant_id=aspirant.id, process_id=aspirant.process_id,
                                     cic=code.cic, clave_elector=None)
    earlier_aspirant = session.get(Aspirant, earlier) if earlier else None
    return ConflictView(already_supported=refusal is Refusal.ALREADY_SUPPORTED,
                        earlier_aspirant_name=earlier_aspirant.full_name if earlier_aspirant else None)


@dataclass(frozen=True)
class Confirmation:
    """What the citizen reads before confirming: the statement's data and any earlier support that conflicts."""

    choice: AspirantChoice
    conflict: ConflictView


def confirmation(*, session: Session, account_id: int, code_id: int, aspirant_id: int,
                 now: datetime) -> Confirmation:
    """Raises Refused when the aspirant cannot be supported now (the code's state is not checked here)."""
    row = _code_and_statement(session, code_id, aspirant_id, now)
    if row is None:  # no such code: the aspirant's refusal first, as ever
        statement_of_will(session=session, aspirant_id=aspirant_id, now=now)
        raise CodeRefused(CodeOutcome.NONE_OPEN)
    choice, aspirant = _statement(row[2], row[3], row[4], now=now)
    if row[0].account_id != account_id:
        raise CodeRefused(CodeOutcome.NONE_OPEN)
    return Confirmation(choice=choice, conflict=_conflict_view(session, row[0], aspirant))


def checked_confirmation(*, session: Session, account_id: int, code_id: int, aspirant_id: int,
                         now: datetime) -> Confirmation:
    """A wizard step's look-ups in one transaction (each was its own, and every step pays for it): raises
    CodeRefused first, as soon as the code stops working, then Refused when the aspirant cannot be supported."""
    row = _code_and_statement(session, code_id, aspirant_id, now)
    code = usable_code(row[0] if row else None, account_id=account_id, window=bool(row and row[1]), now=now)
    assert row is not None
    choice, aspirant = _statement(row[2], row[3], row[4], now=now)
    return Confirmation(choice=choice, conflict=_conflict_view(session, code, aspirant))


def _code_and_statement(session: Session, code_id: int, aspirant_id: int,
                        now: datetime) -> tuple[Any, ...] | None:
    """The code, whether a window is open, and the statement's aspirant, process and OPL: one query, not two."""
    row = session.execute(sa.select(ActivationCode, window_open(now), Aspirant, Process, Opl)
                          .select_from(ActivationCode).outerjoin(Aspirant, col(Aspirant.id) == aspirant_id)
                          .outerjoin(Process, col(Process.id) == col(Aspirant.process_id))
                          .outerjoin(Opl, col(Opl.id) == col(Process.opl_id))
                          .where(col(ActivationCode.id) == code_id)).first()
    return tuple(row) if row is not None else None


def aspirant_choices(*, session: Session, account_id: int, code_id: int, now: datetime) -> list[AspirantChoice]:
    """The aspirant step's page: raises CodeRefused once the code stops working. The code, the window and the open
    aspirants in one query (they were two): a row per aspirant with the code beside it, the code alone if none."""
    listed = sa.join(Aspirant, Process, col(Process.id) == col(Aspirant.process_id)).join(
        Opl, col(Opl.id) == col(Process.opl_id))
    rows = session.execute(
        sa.select(ActivationCode, window_open(now), Aspirant, Process, Opl).select_from(ActivationCode)
        .outerjoin(listed, sa.and_(col(Aspirant.is_active).is_(True), col(Process.starts_at) <= now,
                                   col(Process.ends_at) >= now))
        .where(col(ActivationCode.id) == code_id).order_by(col(Process.name), col(Aspirant.full_name))).all()
    usable_code(rows[0][0] if rows else None, account_id=account_id, window=bool(rows and rows[0][1]), now=now)
    return [_choice(aspirant, process, opl) for _code, _window, aspirant, process, opl in rows
            if aspirant is not None]


def check_draft_code(*, session: Session, account_id: int, code_id: int, now: datetime) -> None:
    """Between steps: raises CodeRefused as soon as the code stops working (expired, window closed, used)."""
    open_code(session=session, account_id=account_id, code_id=code_id, now=now)


def give_support(*, session: Session, account_id: int, draft: SupportDraft, idempotency_key: str,
                 acknowledged_other_office: bool, now: datetime,
                 compose_receipt: ReceiptComposer | None = None) -> SupportReceipt:
    """The citizen's support: consumes the code and calls submit_support in one transaction, queueing the receipt
    e-mail with it. The same key sent again (double tap, reload) returns the first receipt and mails nothing."""
    # Kept referenced until the end, so submit_support and the receipt find them in the session, not the database.
    code, reading, window, _held = _code_with_reading(session, account_id, draft, now)
    submission = _submission(account_id, code, reading, draft, idempotency_key, now)
    prechecked: Prechecked | None = None
    if stored_support(session, idempotency_key) is None:
        prechecked = _conflict_checked(session, code, draft.aspirant_id, acknowledged_other_office)
        try:
            consume_open_code(session=session, code=usable_code(code, account_id=account_id, window=window, now=now),
                              now=now)
        except CodeRefused:
            if stored_support(session, idempotency_key) is None:  # a concurrent twin may have just won
                raise
            prechecked = None  # submit_support looks the key up again and answers with the twin's receipt
    receipt = submit_support(session=session, submission=submission, actor_account_id=account_id, now=now,
                             prechecked=prechecked)
    if receipt.created and compose_receipt is not None:
        _queue_receipt(session, account_id, draft.aspirant_id, receipt, compose_receipt)
    return receipt


def _code_with_reading(session: Session, account_id: int, draft: SupportDraft,
                       now: datetime) -> tuple[ActivationCode, CredentialReading | None, bool, tuple[object, ...]]:
    """The account's code with its reading, whether a collection window is open, and (held, for the identity map)
    the account (the receipt's address), the aspirant and its process: one query (they were three)."""
    row = session.execute(sa.select(ActivationCode, CredentialReading, window_open(now), Account, Aspirant, Process)
                          .select_from(ActivationCode)
                          .outerjoin(CredentialReading, col(CredentialReading.id) == col(ActivationCode.reading_id))
                          .outerjoin(Account, col(Account.id) == col(ActivationCode.account_id))
                          .outerjoin(Aspirant, col(Aspirant.id) == draft.aspirant_id)
                          .outerjoin(Process, col(Process.id) == col(Aspirant.process_id))
                          .where(col(ActivationCode.id) == draft.code_id)).first()
    if row is None or row[0].account_id != account_id:
        raise CodeRefused(CodeOutcome.NONE_OPEN)
    return row[0], row[1], bool(row[2]), (row[3], row[4], row[5])


def _conflict_checked(session: Session, code: ActivationCode, aspirant_id: int, acknowledged: bool) -> Prechecked:
    """Before the code is used: refuses a second support for this aspirant, and a support for another aspirant of
    an office already supported unless the citizen said they understand; the answer goes on to submit_support."""
    aspirant = session.get(Aspirant, aspirant_id)
    if aspirant is None:
        raise Refused(Refusal.ASPIRANT_NOT_FOUND)
    refusal, earlier = find_conflict(session=session, aspirant_id=aspirant_id, process_id=aspirant.process_id,
                                     cic=code.cic, clave_elector=None)
    if refusal is Refusal.ALREADY_SUPPORTED:
        raise Refused(Refusal.ALREADY_SUPPORTED)
    earlier_aspirant = session.get(Aspirant, earlier) if earlier else None
    if earlier_aspirant is not None and earlier_aspirant.full_name and not acknowledged:
        raise AcknowledgementNeeded(earlier_aspirant.full_name)
    return Prechecked(other_aspirant=earlier)


def _queue_receipt(session: Session, account_id: int, aspirant_id: int, receipt: SupportReceipt,
                   compose: ReceiptComposer) -> None:
    account = session.get(Account, account_id)
    aspirant = session.get(Aspirant, aspirant_id)
    process = session.get(Process, aspirant.process_id) if aspirant else None
    if account is None or not account.email or aspirant is None or process is None:
        return
    subject, body = compose(ReceiptFacts(folio=receipt.folio, aspirant_name=aspirant.full_name, office=process.office,
                                         process_name=process.name, received_at=receipt.received_at,
                                         counts_for_aspirant=receipt.counts_for_aspirant))
    queue_mail(session=session, to_address=account.email, subject=subject, body=body)


def _submission(account_id: int, code: ActivationCode, reading: CredentialReading | None, draft: SupportDraft,
                key: str, now: datetime) -> SupportSubmission:
    credential = CredentialData(
        source=reading.source if reading else ReadingSource.PIPELINE, cic=code.cic, qr_text=code.qr_text,
        identificador_ciudadano=reading.identificador_ciudadano if reading else None,
        ocr=reading.ocr if reading else None, model_hint=reading.model_hint if reading else None,
        expiry=reading.expiry if reading else None, back_image_id=reading.back_image_id if reading else None,
        front_image_id=draft.front_image_id,
    )
    return SupportSubmission(
        idempotency_key=key, aspirant_id=draft.aspirant_id, channel=Channel.CITIZEN, credential=credential,
        captured_at=now, citizen_account_id=account_id, live_photo_id=draft.live_photo_id,
        signature_image_id=draft.signature_image_id, signature_method=draft.signature_method,
        manual_capture=reading is not None and reading.source is ReadingSource.MANUAL,
        reading_id=reading.id if reading else None,
    )
