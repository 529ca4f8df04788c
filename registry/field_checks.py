"""A field capture's checks before any photo is decoded or stored: the account's place on the aspirant's team, a
replay of a key already stored, a suspended auxiliary, the collection window (registry.field_window). A batch's
look-ups are made for all its items at once (`look_up_batch`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlmodel import Session, col, select

from registry.field_window import WindowRules, judge
from registry.intake.receipts import receipt_of
from registry.intake.refusals import Refusal, Refused
from registry.models import Aspirant, Auxiliary, Process, Support
from registry.states import CAN_CAPTURE
from registry.supports import SupportReceipt


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
