"""Auxiliary capture: what the server read from the back photo (or, when it could not, the identifiers the
auxiliary typed) becomes a SupportSubmission on the AUXILIARY channel, stored through `submit_support`.

The device's own reading is never trusted: every back photo is decoded by the server (registry.intake.reading, once
per photo: the instant read and the batch share it). Client idempotency keys are
namespaced by the auxiliary (`campo:<auxiliary id>:<key>`), so one auxiliary's keys can never collide with, or
probe, another's. The batch the phones send is processed item by item, each in its own transaction, so one
failure never undoes or blocks the others, and an item answered "received" is already committed. The
collection window (`registry.field_window`) is checked before any photo is decoded or stored."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.db import session_scope
from registry.field_batch import (
    FieldCapture,
    ItemAnswer,
    MalformedItem,
    error,
    received,
    refused,
)
from registry.field_window import WindowRules, judge
from registry.images import CleanImage, ImageStore
from registry.intake.credential import Credential, CredentialData, credential_from_reading
from registry.intake.photos import clean_photos, store_photos
from registry.intake.reading import BackDecode, ImageLimits
from registry.intake.receipts import receipt_of, stored_support
from registry.intake.refusals import Refusal, Refused
from registry.models import Aspirant, Auxiliary, Opl, Process, Support
from registry.review.flags import add_flag
from registry.states import (
    CAN_CAPTURE,
    Channel,
    ImageKind,
    InvitationState,
    ReviewFlag,
    SignatureMethod,
    SupportStatus,
)
from registry.supports import (
    Prechecked,
    SupportReceipt,
    SupportSubmission,
    aspirant_with_process,
    find_conflict,
    submit_support,
)

log = logging.getLogger(__name__)


def field_key(auxiliary_id: int, client_key: str) -> str:
    return f"campo:{auxiliary_id}:{client_key}"


# ---------------------------------------------------------------- who is capturing


def capturing_auxiliary(*, session: Session, account_id: int, aspirant_id: int) -> Auxiliary:
    """The signed-in account's place on this aspirant's team; refused when it has none."""
    auxiliary = session.exec(select(Auxiliary).where(Auxiliary.account_id == account_id,
                                                     Auxiliary.aspirant_id == aspirant_id)).first()
    if auxiliary is None or auxiliary.id is None:
        raise Refused(Refusal.AUXILIARY_NOT_OF_ASPIRANT)
    return auxiliary


@dataclass(frozen=True)
class Prepared:
    auxiliary_id: int
    stored: SupportReceipt | None  # this key was already stored: answer with its folio, change nothing
    flagged: bool = False  # accepted by the collection window, but for the mesa de control to look at


class Asked(Protocol):
    """What the checks before decoding need of a capture (a FieldCapture, or one form's fields)."""

    @property
    def aspirant_id(self) -> int: ...
    @property
    def client_key(self) -> str: ...
    @property
    def captured_at(self) -> datetime: ...


@dataclass(frozen=True)
class _OneCapture:
    aspirant_id: int
    client_key: str
    captured_at: datetime


def prepare_capture(*, session: Session, account_id: int, aspirant_id: int, client_key: str, captured_at: datetime,
                    now: datetime, rules: WindowRules) -> Prepared:
    """Before any decoding: a replay of a stored key is answered at once (even if the auxiliary was suspended
    or the window closed since: it was stored before); a suspended auxiliary's new captures are refused, and so
    are captures outside the collection window. The same checks as a batch's items (prepared_from)."""
    capture = _OneCapture(aspirant_id, client_key, captured_at)
    lookups = look_up_batch(session=session, account_id=account_id, captures=[capture])
    return prepared_from(lookups, capture, now=now, rules=rules)


@dataclass(frozen=True)
class BatchLookups:
    """What a batch's items need before decoding, read for the whole batch in one read-only transaction with one
    query per table (not five statements per item): the account's place on each aspirant's team, the supports
    already stored under the batch's keys, and each aspirant's process for the collection window."""

    auxiliaries: dict[int, Auxiliary]  # by aspirant id
    stored: dict[str, Support]  # by namespaced key (field_key)
    processes: dict[int, Process]  # by aspirant id


def look_up_batch(*, session: Session, account_id: int, captures: Sequence[Asked]) -> BatchLookups:
    aspirant_ids = sorted({capture.aspirant_id for capture in captures})
    auxiliaries: dict[int, Auxiliary] = {}
    for auxiliary in session.exec(select(Auxiliary).where(Auxiliary.account_id == account_id,
                                                          col(Auxiliary.aspirant_id).in_(aspirant_ids))
                                  .order_by(col(Auxiliary.id))):
        auxiliaries.setdefault(auxiliary.aspirant_id, auxiliary)  # the first, as capturing_auxiliary's
    keys = [field_key(auxiliaries[capture.aspirant_id].id or 0, capture.client_key) for capture in captures
            if capture.aspirant_id in auxiliaries]
    stored = {support.idempotency_key: support for support in session.exec(
        select(Support).where(col(Support.idempotency_key).in_(keys)))} if keys else {}
    processes = {aspirant.id or 0: process for aspirant, process in session.exec(
        select(Aspirant, Process).join(Process, col(Process.id) == Aspirant.process_id)
        .where(col(Aspirant.id).in_(aspirant_ids)))}
    return BatchLookups(auxiliaries, stored, processes)


def prepared_from(lookups: BatchLookups, capture: Asked, *, now: datetime, rules: WindowRules) -> Prepared:
    """The checks before decoding, in order, from look-ups already made (no query): the account's place on the
    aspirant's team, a replay of a stored key, a suspended auxiliary, the collection window."""
    auxiliary = lookups.auxiliaries.get(capture.aspirant_id)
    if auxiliary is None or auxiliary.id is None:
        raise Refused(Refusal.AUXILIARY_NOT_OF_ASPIRANT)
    stored = lookups.stored.get(field_key(auxiliary.id, capture.client_key))
    if stored is not None:
        return Prepared(auxiliary.id, receipt_of(stored, created=False))
    if auxiliary.state not in CAN_CAPTURE:
        raise Refused(Refusal.AUXILIARY_INACTIVE)
    flagged = _window_flagged(lookups.processes.get(capture.aspirant_id), captured_at=capture.captured_at,
                              now=now, rules=rules)
    return Prepared(auxiliary.id, None, flagged)


def window_flag(*, session: Session, aspirant_id: int, captured_at: datetime, now: datetime,
                rules: WindowRules) -> bool:
    """Raises Refused (a window code) when the collection window refuses this capture; otherwise
    whether it is accepted but flagged (see registry.field_window)."""
    aspirant = session.get(Aspirant, aspirant_id)
    process = session.get(Process, aspirant.process_id) if aspirant else None
    return _window_flagged(process, captured_at=captured_at, now=now, rules=rules)


def _window_flagged(process: Process | None, *, captured_at: datetime, now: datetime, rules: WindowRules) -> bool:
    if process is None:
        raise Refused(Refusal.ASPIRANT_NOT_FOUND)
    verdict = judge(process, captured=captured_at, received=now, rules=rules)
    if verdict.refusal is not None:
        raise Refused(verdict.refusal)
    return verdict.flagged


def flag_device_time(session: Session, receipt: SupportReceipt) -> None:
    """Mark a support just stored as needing a look at its device time, in the caller's transaction."""
    support = session.get(Support, receipt.support_id)
    if support is not None and receipt.created:
        support.device_time_suspect = True
        session.add(support)
        # The intake's flags are already written: without this one the compulsa would count it unreviewed.
        add_flag(session=session, support_id=receipt.support_id, flag=ReviewFlag.DEVICE_TIME,
                 detail="hora del dispositivo fuera de la ventana o adelantada", now=receipt.received_at)


# ---------------------------------------------------------------- storing one capture


def record_capture(*, session: Session, store: ImageStore, images: Mapping[ImageKind, CleanImage],
                   capture: FieldCapture, credential: Credential, auxiliary_id: int, actor_account_id: int,
                   now: datetime, flagged: bool = False) -> SupportReceipt:
    """Store the photos and the support, in the caller's transaction; `flagged` (from prepare_capture) marks
    its device time for the mesa de control; `images` are the capture's photos, cleaned beforehand outside the
    transaction (registry.intake.photos.clean_photos). Raises Refused."""
    # Held until the end, so submit_support finds them in the session rather than reading them again.
    aspirant, _process = aspirant_with_process(session, capture.aspirant_id)
    conflict, other_aspirant = _known_duplicate(session, aspirant, credential.data)
    if conflict is not None:
        # A retry of this very key that raced us (the phone gave up waiting and sent it again) is a replay.
        raced = stored_support(session, field_key(auxiliary_id, capture.client_key))
        if raced is None:
            raise Refused(conflict)
        return receipt_of(raced, created=False)
    ids = store_photos(session=session, store=store, images=images)
    submission = field_submission(auxiliary_id=auxiliary_id, client_key=capture.client_key,
                                  aspirant_id=capture.aspirant_id, captured_at=capture.captured_at,
                                  credential=credential, image_ids=ids, signature_method=capture.signature_method)
    receipt = submit_support(session=session, submission=submission, actor_account_id=actor_account_id, now=now,
                             prechecked=Prechecked(other_aspirant=other_aspirant))
    if flagged:
        flag_device_time(session, receipt)
    return receipt


def field_submission(*, auxiliary_id: int, client_key: str, aspirant_id: int, captured_at: datetime,
                     credential: Credential, image_ids: Mapping[ImageKind, int],
                     signature_method: SignatureMethod) -> SupportSubmission:
    data = replace(credential.data, back_image_id=image_ids.get(ImageKind.BACK),
                   front_image_id=image_ids.get(ImageKind.FRONT))
    return SupportSubmission(
        idempotency_key=field_key(auxiliary_id, client_key), aspirant_id=aspirant_id, channel=Channel.AUXILIARY,
        credential=data, captured_at=captured_at, auxiliary_id=auxiliary_id,
        live_photo_id=image_ids.get(ImageKind.LIVE_PHOTO), signature_image_id=image_ids.get(ImageKind.SIGNATURE),
        signature_method=signature_method, manual_capture=credential.manual)


def _known_duplicate(session: Session, aspirant: Aspirant | None,
                     credential: CredentialData) -> tuple[Refusal | None, int | None]:
    # Checked before the photos are written, so a refused duplicate leaves no orphan files in the store.
    if aspirant is None or aspirant.id is None:
        return Refusal.ASPIRANT_NOT_FOUND, None
    return find_conflict(session=session, aspirant_id=aspirant.id, process_id=aspirant.process_id,
                         cic=credential.cic, clave_elector=credential.clave_elector)


def require_complete(capture: FieldCapture) -> None:
    """The INE flow asks for both sides, a live photo and a signature (or the accessible alternative)."""
    missing = capture.images.missing(signature_needed=capture.signature_method is SignatureMethod.DRAWN)
    if missing:
        raise Refused(Refusal.INCOMPLETE, missing=tuple(ImageKind(part) for part in missing))


# ---------------------------------------------------------------- the batch


Decode = Callable[[bytes], BackDecode]


@dataclass(frozen=True)
class BatchContext:
    engine: Engine
    store: ImageStore
    limits: ImageLimits
    decode: Decode
    clock: Callable[[], datetime]
    account_id: int
    today: date
    window: WindowRules = field(default_factory=WindowRules)


def process_batch(context: BatchContext, items: Sequence[FieldCapture | MalformedItem]) -> list[ItemAnswer]:
    """One answer per item, in order. Nothing raised by one item reaches another, or the caller."""
    lookups = _look_up(context, [item for item in items if isinstance(item, FieldCapture)])
    answers: list[ItemAnswer] = []
    seen: set[tuple[int, str]] = set()
    for item in items:
        repeated = isinstance(item, FieldCapture) and (item.aspirant_id, item.client_key) in seen
        # A key repeated in the batch is looked up again when its turn comes: its first item may have stored it.
        answers.append(_answer(context, item, None if repeated else lookups))
        if isinstance(item, FieldCapture):
            seen.add((item.aspirant_id, item.client_key))
    return answers


def _look_up(context: BatchContext, captures: Sequence[FieldCapture]) -> BatchLookups | None:
    """The batch's look-ups; None (each item then looks up its own, as before) if they fail."""
    if not captures:
        return None
    try:
        with session_scope(context.engine, read_only=True) as session:
            return look_up_batch(session=session, account_id=context.account_id, captures=captures)
    except Exception:
        log.exception("field batch look-up failed; items look up their own")
        return None


def _answer(context: BatchContext, item: FieldCapture | MalformedItem, lookups: BatchLookups | None) -> ItemAnswer:
    if isinstance(item, MalformedItem):
        return error(item.index, item.client_key, item.code, item.field, retryable=item.retryable)
    try:
        return _process(context, item, lookups)
    except Refused as refusal:
        return refused(item.index, item.client_key, refusal)
    except Exception:  # a server fault: the phone keeps the item and sends it again later
        log.exception("field capture item %d failed", item.index)
        return error(item.index, item.client_key, "server_error", "", retryable=True)


def _prepare(context: BatchContext, item: FieldCapture, lookups: BatchLookups | None) -> Prepared:
    if lookups is not None:
        return prepared_from(lookups, item, now=context.clock(), rules=context.window)
    with session_scope(context.engine) as session:
        return prepare_capture(session=session, account_id=context.account_id, aspirant_id=item.aspirant_id,
                               client_key=item.client_key, captured_at=item.captured_at, now=context.clock(),
                               rules=context.window)


def _process(context: BatchContext, item: FieldCapture, lookups: BatchLookups | None) -> ItemAnswer:
    prepared = _prepare(context, item, lookups)
    if prepared.stored is not None:
        return received(item.index, item.client_key, prepared.stored, replay=True, manual=None)
    require_complete(item)
    decoded = context.decode(item.images.back or b"")  # outside any transaction: decoding takes a while
    credential = credential_from_reading(decoded.reading, item.typed, today=context.today)
    images = clean_photos(item.images.present(), context.limits, back=decoded.image)  # outside it too
    with session_scope(context.engine) as session:
        receipt = record_capture(session=session, store=context.store, images=images, capture=item,
                                 credential=credential, auxiliary_id=prepared.auxiliary_id,
                                 actor_account_id=context.account_id, now=context.clock(),
                                 flagged=prepared.flagged)
    return received(item.index, item.client_key, receipt, replay=not receipt.created, manual=credential.manual)


# ---------------------------------------------------------------- what an auxiliary sees


@dataclass(frozen=True)
class Membership:
    auxiliary_id: int
    aspirant_id: int
    aspirant_name: str
    process_name: str
    state: InvitationState
    office: str = ""
    opl_name: str = ""  # office and OPL: what the statement of will names

    @property
    def can_capture(self) -> bool:
        return self.state in CAN_CAPTURE


def memberships(*, session: Session, account_id: int) -> list[Membership]:
    rows = session.exec(
        select(Auxiliary, Aspirant, Process, Opl)
        .join(Aspirant, col(Aspirant.id) == col(Auxiliary.aspirant_id))
        .join(Process, col(Process.id) == col(Aspirant.process_id))
        .join(Opl, col(Opl.id) == col(Process.opl_id))
        .where(Auxiliary.account_id == account_id).order_by(col(Auxiliary.id))
    ).all()
    return [Membership(auxiliary_id=aux.id or 0, aspirant_id=asp.id or 0, aspirant_name=asp.full_name,
                       process_name=process.name, state=aux.state, office=process.office, opl_name=opl.name)
            for aux, asp, process, opl in rows]


@dataclass(frozen=True)
class OwnCapture:
    folio: str
    aspirant_name: str
    captured_at: datetime
    received_at: datetime
    status: SupportStatus
    manual_capture: bool
    device_time_suspect: bool


def own_captures(*, session: Session, account_id: int, limit: int = 100) -> list[OwnCapture]:
    """The signed-in auxiliary's own supports, newest first; never anybody else's."""
    rows = session.exec(
        select(Support, Aspirant)
        .join(Auxiliary, col(Auxiliary.id) == col(Support.auxiliary_id))
        .join(Aspirant, col(Aspirant.id) == col(Support.aspirant_id))
        .where(Auxiliary.account_id == account_id)
        .order_by(col(Support.received_at).desc(), col(Support.id).desc()).limit(limit)
    ).all()
    return [OwnCapture(folio=s.folio, aspirant_name=a.full_name, captured_at=s.captured_at,
                       received_at=s.received_at, status=s.status, manual_capture=s.manual_capture,
                       device_time_suspect=s.device_time_suspect) for s, a in rows]
