"""Auxiliary capture: what the server read from the back photo (or, when it could not, the identifiers the
auxiliary typed) becomes a SupportSubmission on the AUXILIARY channel, stored through `submit_support`.

The device's own reading is never trusted: every back photo is decoded by the server (registry.intake.reading, once
per photo: the instant read and the batch share it). Client idempotency keys are
namespaced by the auxiliary (`campo:<auxiliary id>:<key>`), so one auxiliary's keys can never collide with, or
probe, another's. The batch the phones send is checked, decoded and cleaned item by item outside any transaction,
then written in one transaction (first without savepoints; again with a savepoint per item should an item fail
after writing), so one item's refusal or failure undoes only its own writes, and answered after the commit, so an
item answered "received" is already committed. The collection window (`registry.field_window`) is checked before
any photo is decoded or stored."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core.audit import DEFERRED_ROWS, add_or_defer
from core.db import session_scope
from registry.field_batch import (
    FieldCapture,
    ItemAnswer,
    MalformedItem,
    error,
    received,
    refused,
)
from registry.field_batch_state import (
    FLUSHES,
    HELD,
    Marks,
    Ready,
    aspirant_of,
    count_flush,
    forget_photos,
    hold_teams,
    known_supports_of,
    look_up_batch_flags,
)
from registry.field_checks import BatchLookups, Prepared, field_key, look_up_batch, prepare_capture, prepared_from
from registry.field_checks import capturing_auxiliary as capturing_auxiliary
from registry.field_checks import window_flag as window_flag
from registry.field_views import Membership as Membership
from registry.field_views import OwnCapture as OwnCapture
from registry.field_views import memberships as memberships
from registry.field_views import own_captures as own_captures
from registry.field_window import WindowRules
from registry.images import KNOWN_IMAGES, CleanImage, ImageStore, StoredImage, already_stored
from registry.intake.credential import Credential, CredentialData, credential_from_reading
from registry.intake.photos import clean_photos, store_photos
from registry.intake.reading import BackDecode, ImageLimits
from registry.intake.receipts import receipt_of, stored_support
from registry.intake.refusals import Refusal, Refused
from registry.models import Aspirant, Support, SupportFlag
from registry.reports.counters import DEFERRED_MOVES, count_transitions
from registry.review.flags import BATCH_FLAGS
from registry.states import (
    Channel,
    ImageKind,
    ReviewFlag,
    SignatureMethod,
)
from registry.supports import (
    KnownSupports,
    Prechecked,
    SupportReceipt,
    SupportSubmission,
    find_conflict,
    replay_of_clash,
    submit_support,
)

log = logging.getLogger(__name__)


def flag_device_time(session: Session, receipt: SupportReceipt) -> None:
    """Mark a support just stored as needing a look at its device time, in the caller's transaction."""
    support = session.get(Support, receipt.support_id)
    # Already suspect when stored: the intake flagged it then (flag_on_intake), in this very transaction.
    if support is not None and receipt.created and not support.device_time_suspect:
        support.device_time_suspect = True
        session.add(support)
        # The intake's flags are already written: without this one the compulsa would count it unreviewed. The
        # support is new in this transaction, so no other flag of this kind can stand: no look-up, no savepoint.
        add_or_defer(session, SupportFlag(support_id=receipt.support_id, flag=ReviewFlag.DEVICE_TIME,
                                          detail="hora del dispositivo fuera de la ventana o adelantada",
                                          at=receipt.received_at))


# ---------------------------------------------------------------- storing one capture


def record_capture(*, session: Session, store: ImageStore, images: Mapping[ImageKind, CleanImage],
                   capture: FieldCapture, credential: Credential, auxiliary_id: int, actor_account_id: int,
                   now: datetime, flagged: bool = False, known: KnownSupports | None = None,
                   in_savepoint: bool = False) -> SupportReceipt:
    """Store the photos and the support, in the caller's transaction; `flagged` (from prepare_capture) marks
    its device time for the mesa de control; `images` are the capture's photos, cleaned beforehand outside the
    transaction (registry.intake.photos.clean_photos); `known`: a batch's supports of its credentials, read
    beforehand; `in_savepoint`: the caller's savepoint turns a clash of keys into a replay (submit_support's
    Prechecked). Raises Refused."""
    # Held until the end, so submit_support finds them in the session rather than reading them again.
    aspirant, _process = aspirant_of(session, capture.aspirant_id)
    conflict, other_aspirant = _known_duplicate(session, aspirant, credential.data, known)
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
                             prechecked=Prechecked(other_aspirant=other_aspirant, in_savepoint=in_savepoint))
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


def _known_duplicate(session: Session, aspirant: Aspirant | None, credential: CredentialData,
                     known: KnownSupports | None = None) -> tuple[Refusal | None, int | None]:
    # Checked before the photos are written, so a refused duplicate leaves no orphan files in the store.
    if aspirant is None or aspirant.id is None:
        return Refusal.ASPIRANT_NOT_FOUND, None
    if known is not None:
        return known.conflict(aspirant_id=aspirant.id, cic=credential.cic, clave_elector=credential.clave_elector)
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
    """One answer per item, in order. Nothing raised by one item reaches another, or the caller. Every item is
    checked, decoded and cleaned first, outside any transaction; then those left are written in one transaction,
    each in a savepoint of its own (`_write_ready`)."""
    lookups = _look_up(context, [item for item in items if isinstance(item, FieldCapture)])
    answers: dict[int, ItemAnswer] = {}
    ready: dict[int, Ready] = {}
    seen: set[tuple[int, str]] = set()
    for position, item in enumerate(items):
        repeated = isinstance(item, FieldCapture) and (item.aspirant_id, item.client_key) in seen
        # A key repeated in the batch is looked up again when its turn comes: its first item may have stored it.
        outcome = _answer(context, item, None if repeated else lookups, repeated=repeated)
        if isinstance(outcome, Ready):
            ready[position] = outcome
        else:
            answers[position] = outcome
        if isinstance(item, FieldCapture):
            seen.add((item.aspirant_id, item.client_key))
    answers |= _write_ready(context, ready)
    return [answers[position] for position in range(len(items))]


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


def _answer(context: BatchContext, item: FieldCapture | MalformedItem, lookups: BatchLookups | None, *,
            repeated: bool) -> ItemAnswer | Ready:
    if isinstance(item, MalformedItem):
        return error(item.index, item.client_key, item.code, item.field, retryable=item.retryable)
    try:
        return _process(context, item, lookups, repeated=repeated)
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


def _process(context: BatchContext, item: FieldCapture, lookups: BatchLookups | None, *,
             repeated: bool) -> ItemAnswer | Ready:
    prepared = _prepare(context, item, lookups)
    if prepared.stored is not None:
        return received(item.index, item.client_key, prepared.stored, replay=True, manual=None)
    require_complete(item)
    decoded = context.decode(item.images.back or b"")  # outside any transaction: decoding takes a while
    credential = credential_from_reading(decoded.reading, item.typed, today=context.today)
    images = clean_photos(item.images.present(), context.limits, back=decoded.image)  # outside it too
    return Ready(item, prepared, credential, images, repeated)


def _write_ready(context: BatchContext, ready: Mapping[int, Ready]) -> dict[int, ItemAnswer]:
    """The items' writes in one transaction (one commit, one chaining of the audit trail and the support events
    for all of them, the aspirant's rows read once, the rows nothing reads back added together at the end: one
    INSERT per table). First without savepoints (two statements an item): should an item fail once it has written
    anything, the transaction is rolled back and the batch written again with a savepoint per item, so a refused
    or failed item undoes only its own writes. Answers leave only after the commit: an item answered "received" is
    stored. Should the commit itself fail, each item is written again in a transaction of its own."""
    if not ready:
        return {}
    for savepoints in (False, True):
        try:
            return _write_batch(context, ready, savepoints=savepoints)
        except _Redo:
            log.info("field batch: an item failed after writing; written again with a savepoint per item")
        except Exception:
            log.exception("field batch commit failed; items are written one by one")
            break
    return {position: _write_alone(context, one) for position, one in ready.items()}


class _Redo(Exception):
    """An item failed after writing, outside any savepoint: its rows cannot be undone alone."""


def _write_batch(context: BatchContext, ready: Mapping[int, Ready], *, savepoints: bool) -> dict[int, ItemAnswer]:
    images: dict[tuple[str, ImageKind], StoredImage] = {}
    try:
        with session_scope(context.engine) as session:
            session.info[HELD] = hold_teams(session, ready.values())
            known = known_supports_of(session, ready.values())
            images = already_stored(session, (image.sha256 for one in ready.values()
                                              for image in one.images.values()))
            before = dict(images)
            session.info[KNOWN_IMAGES] = images
            session.info[BATCH_FLAGS] = look_up_batch_flags(session, ready.values())
            session.info[DEFERRED_ROWS], session.info[DEFERRED_MOVES] = [], []
            if not savepoints:
                event.listen(session, "before_flush", count_flush)
            answers = {position: _write_one(context, session, one, known, savepoints=savepoints)
                       for position, one in ready.items()}
            count_transitions(session=session, moves=session.info.pop(DEFERRED_MOVES))
            rows = session.info.pop(DEFERRED_ROWS)
            session.add_all(rows)
            session.flush()  # while `rows` holds the supports: their events' streams are known (audit_chain)
            return answers
    except _Redo:  # rolled back before any commit: the photos this attempt put in the store belong to no row
        forget_photos(context.store, (row for key, row in images.items() if key not in before))
        raise


def _write_alone(context: BatchContext, one: Ready) -> ItemAnswer:
    try:
        with session_scope(context.engine) as session:
            return _write_one(context, session, one)
    except Exception:  # its commit failed too: the phone keeps the item and sends it again later
        log.exception("field capture item %d failed at commit", one.item.index)
        return error(one.item.index, one.item.client_key, "server_error", "", retryable=True)


def _write_one(context: BatchContext, session: Session, one: Ready,
               known: Mapping[int, KnownSupports] | None = None, *, savepoints: bool = True) -> ItemAnswer:
    """One item's answer; what it leaves for the batch's end stays only when it stored a support. Without
    `savepoints`, a failure after the item wrote anything raises _Redo."""
    item = one.item
    found = known.get(item.aspirant_id) if known is not None else None
    if not savepoints:
        session.flush()  # what the items before left pending, so that only this item's writes count as its own
    undo = Marks.of(session)
    try:
        answer = _write_in_savepoint(context, session, one, found) if savepoints else \
            _write(context, session, one, found)
    except Refused as refusal:
        answer = refused(item.index, item.client_key, refusal)
    except Exception as failure:  # a server fault: the phone keeps the item and sends it again later
        if not savepoints:
            raise _Redo from failure
        log.exception("field capture item %d failed", item.index)
        answer = error(item.index, item.client_key, "server_error", "", retryable=True)
    if answer.status != "received" or answer.replay:
        # Its rows went with its savepoint; with none, only an item that wrote nothing may store nothing.
        if not savepoints and undo.flushes != session.info.get(FLUSHES, 0):
            raise _Redo
        forget_photos(context.store, undo.new_images())
        undo.roll_back()
    elif found is not None:  # stored: from now on it stands for the batch's later items
        found.add(aspirant_id=item.aspirant_id, cic=one.credential.data.cic,
                  clave_elector=one.credential.data.clave_elector)
    return answer


def _write_in_savepoint(context: BatchContext, session: Session, one: Ready,
                        known: KnownSupports | None) -> ItemAnswer:
    item, prepared = one.item, one.prepared
    try:
        with session.begin_nested():
            return _write(context, session, one, known)
    except IntegrityError:  # a twin of this key (the phone gave up and sent it again) committed first: a replay
        submission = field_submission(auxiliary_id=prepared.auxiliary_id, client_key=item.client_key,
                                      aspirant_id=item.aspirant_id, captured_at=item.captured_at,
                                      credential=one.credential, image_ids={},
                                      signature_method=item.signature_method)
        receipt = replay_of_clash(session, submission)
        return received(item.index, item.client_key, receipt, replay=True, manual=one.credential.manual)


def _write(context: BatchContext, session: Session, one: Ready, known: KnownSupports | None) -> ItemAnswer:
    item, prepared = one.item, one.prepared
    if one.repeated:  # stored by its first item in this very transaction: answered as a replay, as before
        stored = stored_support(session, field_key(prepared.auxiliary_id, item.client_key))
        if stored is not None:
            return received(item.index, item.client_key, receipt_of(stored, created=False), replay=True,
                            manual=None)
    receipt = record_capture(session=session, store=context.store, images=one.images, capture=item,
                             credential=one.credential, auxiliary_id=prepared.auxiliary_id,
                             actor_account_id=context.account_id, now=context.clock(), flagged=prepared.flagged,
                             known=known, in_savepoint=True)
    return received(item.index, item.client_key, receipt, replay=not receipt.created, manual=one.credential.manual)
