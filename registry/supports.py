"""Supports: the ONE service call every channel ends in (citizen, auxiliary, paper, bulk file), and the one
function that moves a support between states. Each change writes an append-only SupportEvent in the same
transaction, so every count in a report can be traced to the events behind it."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.audit import add_or_defer, record_audit
from core.sealing import blind_in, blind_match, current_sealer
from registry.intake.credential import CredentialData, store_reading
from registry.intake.receipts import SupportReceipt, receipt_of, stored_support
from registry.intake.refusals import Refusal, Refused
from registry.models import (
    Aspirant,
    Auxiliary,
    CredentialReading,
    PendingVerification,
    Process,
    Support,
    SupportEvent,
)
from registry.reports.counters import DEFERRED_MOVES, Move, Standing, count_transitions, local_day
from registry.review.flags import flag_on_intake
from registry.states import (
    CAN_CAPTURE,
    Channel,
    SignatureMethod,
    SituacionRegistral,
    SupportStatus,
)

FOLIO_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U to misread
# Phones' clocks drift; beyond this a device time is flagged for the mesa de control, not trusted.
DEVICE_CLOCK_TOLERANCE = timedelta(hours=12)


@dataclass(frozen=True)
class SupportSubmission:
    idempotency_key: str
    aspirant_id: int
    channel: Channel
    credential: CredentialData
    captured_at: datetime
    citizen_account_id: int | None = None
    auxiliary_id: int | None = None
    live_photo_id: int | None = None
    signature_image_id: int | None = None
    signature_method: SignatureMethod = SignatureMethod.DRAWN
    manual_capture: bool = False
    reading_id: int | None = None  # the reading already stored for this credential (the citizen's code's)


@dataclass(frozen=True)
class Prechecked:
    """What a channel already looked up in this very transaction, so that submit_support does not ask again:
    find_conflict's answer for this credential (the channel raised its refusal itself; `other_aspirant` is the
    aspirant of the same office supported earlier), and the idempotency key found not stored. A twin with the same
    key that commits after that look-up still stores nothing: the key is unique, and the insert's savepoint turns
    the clash into a replay (`in_savepoint`: the caller's own savepoint around this call, which then rolls back the
    clash and calls `replay_of_clash`, saving a savepoint per support in a batch)."""

    other_aspirant: int | None
    in_savepoint: bool = False


def submit_support(*, session: Session, submission: SupportSubmission, actor_account_id: int | None,
                   now: datetime, prechecked: Prechecked | None = None) -> SupportReceipt:
    """Store a support exactly once per idempotency key; raises Refused with the reason otherwise."""
    if prechecked is None:
        existing = stored_support(session, submission.idempotency_key)
        if existing is not None:
            return _replay(existing, submission)
    aspirant, process = _aspirant_and_process(session, submission.aspirant_id)
    _check_channel(session, submission, process, now)
    other_aspirant = prechecked.other_aspirant if prechecked else _other_aspirant(session, submission, process)
    if isinstance(other_aspirant, Support):
        return _replay(other_aspirant, submission)
    if prechecked is not None and prechecked.in_savepoint:
        support = _insert(session, submission, process, now, other_aspirant)
    else:
        try:
            with session.begin_nested():  # a concurrent retry with the same key loses here, not the whole request
                support = _insert(session, submission, process, now, other_aspirant)
        except IntegrityError:
            return replay_of_clash(session, submission)
    record_audit(session, action="support_received", actor_account_id=actor_account_id, object_type="support",
                 object_id=support.id, after=f"channel={submission.channel} aspirant={aspirant.id}")
    return receipt_of(support, created=True)


def replay_of_clash(session: Session, submission: SupportSubmission) -> SupportReceipt:
    """After an insert's IntegrityError, rolled back to its savepoint: the twin with this key that won is a replay;
    with none, the error was another one and is raised again."""
    stored = stored_support(session, submission.idempotency_key)
    if stored is None:
        raise
    return _replay(stored, submission)


def _other_aspirant(session: Session, submission: SupportSubmission, process: Process) -> int | Support | None:
    """The aspirant of the same office supported earlier; or this key's support, stored by a racing retry."""
    try:
        return _check_duplicates(session, submission, process)
    except Refused:
        # A racing retry of this very key may have committed since we looked: that is a replay, not a duplicate.
        stored = stored_support(session, submission.idempotency_key)
        if stored is None:
            raise
        return stored


def aspirant_with_process(session: Session, aspirant_id: int) -> tuple[Aspirant | None, Process | None]:
    """The aspirant and its process in one query. The session's identity map holds an object only while something
    references it: a caller that keeps both makes every later get of either (submit_support's checks, a receipt)
    free instead of a query each."""
    row = session.exec(select(Aspirant, Process).join(Process, col(Process.id) == Aspirant.process_id)
                       .where(Aspirant.id == aspirant_id)).first()
    return (row[0], row[1]) if row is not None else (None, None)


def _replay(support: Support, submission: SupportSubmission) -> SupportReceipt:
    same = (support.aspirant_id, support.channel, support.citizen_account_id, support.auxiliary_id) == (
        submission.aspirant_id, submission.channel, submission.citizen_account_id, submission.auxiliary_id)
    if not same:
        raise Refused(Refusal.KEY_REUSED)
    return receipt_of(support, created=False)


def _aspirant_and_process(session: Session, aspirant_id: int) -> tuple[Aspirant, Process]:
    aspirant = session.get(Aspirant, aspirant_id)
    process = session.get(Process, aspirant.process_id) if aspirant else None
    if aspirant is None or process is None or not aspirant.is_active:
        raise Refused(Refusal.ASPIRANT_NOT_FOUND)
    return aspirant, process


def is_open(process: Process, moment: datetime) -> bool:
    return process.starts_at <= moment <= process.ends_at


def _check_channel(session: Session, submission: SupportSubmission, process: Process, now: datetime) -> None:
    credential = submission.credential
    if not (credential.cic or credential.clave_elector):
        raise Refused(Refusal.NO_CREDENTIAL)
    if submission.channel is Channel.CITIZEN and not is_open(process, now):
        raise Refused(Refusal.PROCESS_CLOSED)
    if submission.auxiliary_id is not None:
        auxiliary = session.get(Auxiliary, submission.auxiliary_id)
        if auxiliary is None or auxiliary.aspirant_id != submission.aspirant_id:
            raise Refused(Refusal.AUXILIARY_NOT_OF_ASPIRANT)
        if auxiliary.state not in CAN_CAPTURE:
            raise Refused(Refusal.AUXILIARY_INACTIVE)


def _same_credential(cic: str | None, clave_elector: str | None) -> ColumnElement[bool]:
    # Sealed columns: the blind index finds the credential (core/sealing.py).
    if cic:
        return blind_match(col(Support.cic_bidx), cic, "cic")
    return blind_match(col(Support.clave_elector_bidx), clave_elector or "", "clave_elector")


def _counting_supports(session: Session, process_id: int, cic: str | None, clave: str | None) -> list[Support]:
    """This credential's supports in the process that still stand, oldest first (only the first counts)."""
    return list(session.exec(
        select(Support).where(_same_credential(cic, clave), Support.process_id == process_id,
                              Support.status != SupportStatus.INVALID)
        .order_by(col(Support.received_at))
    ).all())


# Paper forms arrive signed, after the fact: a repeated citizen is stored and the compulsa counts it as a duplicate
# (as INE's own report does) rather than losing the form the OPL holds.
STORES_DUPLICATES = frozenset({Channel.PAPER, Channel.BULK_IMPORT})


def _check_duplicates(session: Session, submission: SupportSubmission, process: Process) -> int | None:
    """Refuse a second support for the same aspirant; return the aspirant already supported for this office."""
    assert process.id is not None
    credential = submission.credential
    refusal, other = find_conflict(session=session, aspirant_id=submission.aspirant_id, process_id=process.id,
                                   cic=credential.cic, clave_elector=credential.clave_elector)
    if refusal is not None and submission.channel not in STORES_DUPLICATES:
        raise Refused(refusal)
    return other


def find_conflict(*, session: Session, aspirant_id: int, process_id: int, cic: str | None,
                  clave_elector: str | None) -> tuple[Refusal | None, int | None]:
    """What the citizen must be told before confirming: (refusal if this aspirant already has this credential's
    support, else None; the aspirant of the same office supported earlier, whose support is the one that counts)."""
    earlier = _counting_supports(session, process_id, cic, clave_elector)
    if any(support.aspirant_id == aspirant_id for support in earlier):
        return Refusal.ALREADY_SUPPORTED, None
    return None, earlier[0].aspirant_id if earlier else None


def _credential_key(cic: str | None, clave_elector: str | None) -> tuple[str, str]:
    # find_conflict's match: the CIC when there is one, else the clave de elector.
    return ("cic", cic) if cic else ("clave_elector", clave_elector or "")


@dataclass
class KnownSupports:
    """find_conflict for many credentials of one process from one query (`known_supports`): the standing supports
    of those credentials, oldest first, as (blind index purpose, blind index, aspirant), and those stored since by
    the caller (`add`, once its write is sure to stay), by plaintext."""

    rows: list[tuple[str, str | None, int]]
    added: list[tuple[tuple[str, str], int]] = field(default_factory=list)

    def conflict(self, *, aspirant_id: int, cic: str | None,
                 clave_elector: str | None) -> tuple[Refusal | None, int | None]:
        """What find_conflict answers for this credential (its docstring)."""
        purpose, value = _credential_key(cic, clave_elector)
        indexes = set(current_sealer().blind_indexes(value, purpose))
        earlier = [aspirant for kind, index, aspirant in self.rows if kind == purpose and index in indexes]
        earlier += [aspirant for key, aspirant in self.added if key == (purpose, value)]
        if aspirant_id in earlier:
            return Refusal.ALREADY_SUPPORTED, None
        return None, earlier[0] if earlier else None

    def add(self, *, aspirant_id: int, cic: str | None, clave_elector: str | None) -> None:
        for key in (("cic", cic), ("clave_elector", clave_elector)):
            if key[1]:
                self.added.append(((key[0], key[1]), aspirant_id))


def known_supports(*, session: Session, process_id: int,
                   credentials: Iterable[tuple[str | None, str | None]]) -> KnownSupports:
    """The standing supports in the process of each (cic, clave_elector), in one query (`KnownSupports`)."""
    keys = [_credential_key(cic, clave) for cic, clave in credentials]
    cics = [value for purpose, value in keys if purpose == "cic"]
    claves = [value for purpose, value in keys if purpose == "clave_elector"]
    matches = [blind_in(col(Support.cic_bidx), cics, "cic")] if cics else []
    matches += [blind_in(col(Support.clave_elector_bidx), claves, "clave_elector")] if claves else []
    if not matches:
        return KnownSupports([])
    found = session.exec(
        select(col(Support.cic_bidx), col(Support.clave_elector_bidx), col(Support.aspirant_id))
        .where(or_(*matches), Support.process_id == process_id, Support.status != SupportStatus.INVALID)
        .order_by(col(Support.received_at))).all()
    rows: list[tuple[str, str | None, int]] = []
    for cic_index, clave_index, aspirant in found:
        rows += [("cic", cic_index, aspirant), ("clave_elector", clave_index, aspirant)]
    return KnownSupports(rows)


def _device_time_suspect(captured_at: datetime, process: Process, now: datetime) -> bool:
    tolerance = DEVICE_CLOCK_TOLERANCE
    in_future = captured_at > now + tolerance
    outside = captured_at < process.starts_at - tolerance or captured_at > process.ends_at + tolerance
    return in_future or outside


def _insert(session: Session, submission: SupportSubmission, process: Process, now: datetime,
            other_aspirant: int | None) -> Support:
    credential = submission.credential
    reading = _reading_row(session, submission)
    assert reading.id is not None and process.id is not None
    support = Support(
        folio=new_folio(), idempotency_key=submission.idempotency_key, process_id=process.id,
        aspirant_id=submission.aspirant_id, channel=submission.channel,
        citizen_account_id=submission.citizen_account_id, auxiliary_id=submission.auxiliary_id,
        reading_id=reading.id, cic=credential.cic, clave_elector=credential.clave_elector,
        live_photo_id=submission.live_photo_id, signature_image_id=submission.signature_image_id,
        signature_method=submission.signature_method, manual_capture=submission.manual_capture,
        device_time_suspect=_device_time_suspect(submission.captured_at, process, now),
        captured_at=submission.captured_at, received_at=now, updated_at=now,
        received_day=local_day(now, process.timezone),
    )
    session.add(support)
    session.flush()
    assert support.id is not None
    add_or_defer(session, PendingVerification(support_id=support.id, process_id=process.id))  # for the compulsa
    flag_on_intake(session=session, support=support, reading=reading, process=process, now=now)
    first = SituacionRegistral.DUPLICADO_OTRO_ASPIRANTE if other_aspirant else SituacionRegistral.SIN_VERIFICAR
    record_transition(session=session, support=support, to_status=SupportStatus.RECEIVED, situacion=first,
                      reason="duplicado con otro aspirante: solo cuenta el primero" if other_aspirant else "recibido",
                      actor_account_id=None, now=now, initial=True)
    return support


def _reading_row(session: Session, submission: SupportSubmission) -> CredentialReading:
    """One reading per support: the one already stored when the channel has it (completed with the front photo),
    otherwise a new one."""
    credential = submission.credential
    kept = session.get(CredentialReading, submission.reading_id) if submission.reading_id else None
    if kept is not None and kept.front_image_id in (None, credential.front_image_id):
        kept.front_image_id = credential.front_image_id
        session.add(kept)
        return kept
    return store_reading(session, credential)


def new_folio() -> str:
    return "RC-" + "".join(secrets.choice(FOLIO_ALPHABET) for _ in range(10))


# What a transition reads of the support it moves: its standing and place as stored, not as remembered.
_STANDING = ["status", "situacion_registral", "state_code", "district", "municipality", "seccion", "received_day"]


def _lock_current(session: Session, support: Support) -> None:
    """Re-read the support's standing, locked until commit (PostgreSQL; SQLite has one writer at a time): an
    object loaded before a compulsa's set-based UPDATE, or a compulsa committing meanwhile, would otherwise move
    it out of a counter cell it already left, and the event would name the wrong starting status."""
    session.flush()
    session.refresh(support, attribute_names=_STANDING, with_for_update=True)


def record_transition(*, session: Session, support: Support, to_status: SupportStatus,
                      situacion: SituacionRegistral, reason: str, actor_account_id: int | None, now: datetime,
                      initial: bool = False) -> SupportEvent:
    """The only way a support's status or situación registral changes: row update + event, one transaction."""
    assert support.id is not None
    if not initial:
        _lock_current(session, support)
    event = SupportEvent(support_id=support.id, from_status=None if initial else support.status,
                         to_status=to_status, situacion_registral=situacion, reason=reason[:500],
                         actor_account_id=actor_account_id, at=now, state_code=support.state_code,
                         district=support.district, municipality=support.municipality, seccion=support.seccion)
    before = None if initial else Standing(support.status, support.situacion_registral)
    move = Move(support, before, Standing(to_status, situacion))
    deferred = session.info.get(DEFERRED_MOVES) if initial else None
    if deferred is not None:  # a batch's new supports, counted together before its commit (registry.field)
        deferred.append(move)
    else:
        count_transitions(session=session, moves=[move])
    support.status, support.situacion_registral, support.updated_at = to_status, situacion, now
    session.add(support)
    add_or_defer(session, support)  # referenced until the event is flushed: its stream is known (audit_chain)
    add_or_defer(session, event)
    return event
