"""Filing objections: the aspirant contests rejected supports with one argument, within the process's objection
period. A selection is filed all or nothing, and every refusal names the support and why, so the aspirant can fix
the selection and file again."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from core.audit import record_audit
from core.clock import as_utc
from core.text import unsafe_character
from registry.models import Objection, Process, Support
from registry.states import CONTESTABLE, OPEN_OBJECTIONS, ObjectionState, SupportStatus
from registry.supports import record_transition

ARGUMENT_MAX_CHARS = 4000
MAX_SELECTION = 200  # more than a page of the list; a bound on the work one request can ask for
FILED_REASON = "objeción presentada por el aspirante"


class ArgumentProblem(StrEnum):
    MISSING = "missing"
    TOO_LONG = "too_long"
    CHARACTERS = "characters"  # NUL and other control or invisible characters


class Refusal(StrEnum):
    """Why one support of a selection cannot be contested."""

    NOT_FOUND = "not_found"  # not one of the aspirant's supports (or no such support): nothing else is said
    NOT_REJECTED = "not_rejected"  # it counts, or is still being verified or reviewed
    ALREADY_OPEN = "already_open"  # an objection is waiting for its answer
    BEFORE_PERIOD = "before_period"
    AFTER_PERIOD = "after_period"


@dataclass(frozen=True)
class ObjectionPeriod:
    """When objections may be filed; None on a side: no limit on that side."""

    opens_at: datetime | None
    closes_at: datetime | None

    @classmethod
    def of(cls, process: Process) -> ObjectionPeriod:
        return cls(opens_at=process.objections_open_at, closes_at=process.objections_close_at)

    def refusal_at(self, now: datetime) -> Refusal | None:
        if self.opens_at is not None and as_utc(now) < as_utc(self.opens_at):
            return Refusal.BEFORE_PERIOD
        if self.closes_at is not None and as_utc(now) > as_utc(self.closes_at):
            return Refusal.AFTER_PERIOD
        return None


@dataclass(frozen=True)
class SupportRefusal:
    support_id: int
    folio: str | None  # None when the support is not the aspirant's: its folio is not theirs to learn
    refusal: Refusal


class ObjectionsRefused(Exception):
    """Nothing was filed: the argument's problem, or each support refused (and the period they were judged by)."""

    def __init__(self, *, argument: ArgumentProblem | None = None, supports: tuple[SupportRefusal, ...] = (),
                 period: ObjectionPeriod | None = None, none_selected: bool = False,
                 too_many: bool = False) -> None:
        super().__init__("objections refused")
        self.argument, self.supports, self.period = argument, supports, period
        self.none_selected, self.too_many = none_selected, too_many


def checked_argument(argument: str) -> str:
    """The argument as stored: NFC, line breaks kept (it may have paragraphs), trimmed; raises when refused."""
    text = unicodedata.normalize("NFC", argument.replace("\r\n", "\n")).strip()
    if not text:
        raise ObjectionsRefused(argument=ArgumentProblem.MISSING)
    if unsafe_character(text) is not None:
        raise ObjectionsRefused(argument=ArgumentProblem.CHARACTERS)
    if len(text) > ARGUMENT_MAX_CHARS:
        raise ObjectionsRefused(argument=ArgumentProblem.TOO_LONG)
    return text


def eligibility(*, support: Support, process: Process, has_open_objection: bool, now: datetime) -> Refusal | None:
    """Why this (already scoped) support cannot be contested now, or None when it can."""
    if has_open_objection or support.status is SupportStatus.CONTESTED:
        return Refusal.ALREADY_OPEN
    if support.status not in CONTESTABLE:
        return Refusal.NOT_REJECTED
    return ObjectionPeriod.of(process).refusal_at(now)


def open_objection_ids(session: Session, support_ids: Collection[int]) -> set[int]:
    """The supports among these with an objection waiting for its answer."""
    if not support_ids:
        return set()
    rows = session.exec(select(Objection.support_id).where(col(Objection.support_id).in_(support_ids),
                                                           col(Objection.state).in_(OPEN_OBJECTIONS))).all()
    return set(rows)


def file_objections(*, session: Session, aspirant_ids: Collection[int], support_ids: Collection[int],
                    argument: str, actor_account_id: int, now: datetime) -> list[int]:
    """File one objection per support (all or nothing); returns the objections' ids in the order asked."""
    wanted = list(dict.fromkeys(support_ids))
    if not wanted:
        raise ObjectionsRefused(none_selected=True)
    if len(wanted) > MAX_SELECTION:
        raise ObjectionsRefused(too_many=True)
    text = checked_argument(argument)
    # Locked (PostgreSQL) so a second filing racing this one waits and then sees the open objection.
    found = {s.id: s for s in session.exec(select(Support).where(col(Support.id).in_(wanted))
                                           .with_for_update()).all()}
    supports = [found.get(support_id) for support_id in wanted]
    refusals, period = _refusals(session, wanted, supports, frozenset(aspirant_ids), now)
    if refusals:
        raise ObjectionsRefused(supports=tuple(refusals), period=period)
    return [_file_one(session, support, text, actor_account_id, now) for support in supports if support is not None]


def _refusals(session: Session, wanted: list[int], supports: list[Support | None], aspirant_ids: frozenset[int],
              now: datetime) -> tuple[list[SupportRefusal], ObjectionPeriod | None]:
    open_ids = open_objection_ids(session, wanted)
    refusals: list[SupportRefusal] = []
    period: ObjectionPeriod | None = None
    for support_id, support in zip(wanted, supports, strict=True):
        if support is None or support.aspirant_id not in aspirant_ids:
            refusals.append(SupportRefusal(support_id=support_id, folio=None, refusal=Refusal.NOT_FOUND))
            continue
        process = session.get(Process, support.process_id)
        assert process is not None
        period = ObjectionPeriod.of(process)
        refusal = eligibility(support=support, process=process, has_open_objection=support_id in open_ids, now=now)
        if refusal is not None:
            refusals.append(SupportRefusal(support_id=support_id, folio=support.folio, refusal=refusal))
    return refusals, period


def _file_one(session: Session, support: Support, argument: str, actor_account_id: int, now: datetime) -> int:
    assert support.id is not None
    objection = Objection(support_id=support.id, filed_by_account_id=actor_account_id, argument=argument,
                          state=ObjectionState.FILED, filed_at=now)
    session.add(objection)
    session.flush()
    assert objection.id is not None
    # The situación registral stays: it is what the reviewer weighs the argument against.
    record_transition(session=session, support=support, to_status=SupportStatus.CONTESTED,
                      situacion=support.situacion_registral, reason=FILED_REASON,
                      actor_account_id=actor_account_id, now=now)
    record_audit(session, action="objection_filed", actor_account_id=actor_account_id, object_type="support",
                 object_id=support.id, before=f"status={SupportStatus.INVALID}",
                 after=f"status={SupportStatus.CONTESTED} objection={objection.id}")
    return objection.id
