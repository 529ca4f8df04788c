"""What the aspirant sees of their supports that do not count: counts, a filtered and paginated list, and one
support's detail (the data captured, its history, the reviewer's decision, the evidence it has, its objections).

Only what the aspirant's side captured is shown, never what the Lista Nominal holds about the citizen (names,
where they are registered) nor which other aspirant a duplicate went to: the aspirant needs the reason to contest
it, not more personal data than they collected."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from registry.evidence import Evidence, evidence_images, read_evidence, support_of_aspirants
from registry.images import ImageStore
from registry.models import (
    Aspirant,
    CredentialReading,
    InconsistencyType,
    Objection,
    Process,
    ReviewDecision,
    Support,
    SupportEvent,
)
from registry.objections.filing import ObjectionPeriod, Refusal, eligibility, open_objection_ids
from registry.states import (
    COUNTABLE,
    PENDING,
    Channel,
    ImageKind,
    ObjectionState,
    ReviewLevel,
    ReviewOutcome,
    SituacionRegistral,
    SupportStatus,
)

NOT_COUNTING = frozenset({SupportStatus.INVALID, SupportStatus.CONTESTED})
PAGE_SIZE = 50


@dataclass
class SupportCounts:
    valid: int = 0  # cuentan
    not_counting: int = 0  # no cuentan: rejected, with or without an objection
    contested: int = 0  # en objeción: waiting for the reviewer's answer
    pending: int = 0  # en proceso: received, being verified or at the mesa de control


def support_counts(*, session: Session, aspirant_id: int) -> SupportCounts:
    statement = (select(col(Support.status), func.count()).where(Support.aspirant_id == aspirant_id)
                 .group_by(col(Support.status)))
    return _counted((SupportStatus(status), count) for status, count in session.exec(statement).all())


def _counted(per_status: Iterable[tuple[SupportStatus, int]]) -> SupportCounts:
    counts = SupportCounts()
    for status, count in per_status:
        counts.valid += count if status in COUNTABLE else 0
        counts.not_counting += count if status in NOT_COUNTING else 0
        counts.contested += count if status is SupportStatus.CONTESTED else 0
        counts.pending += count if status in PENDING else 0
    return counts


@dataclass(frozen=True)
class _Tally:
    """The aspirant's supports counted per (status, situación, channel): one GROUP BY (a few dozen rows) from which
    the page's counts and both filters' counts are summed, instead of one scan of the aspirant's supports
    (perhaps a hundred thousand) for each."""

    rows: list[tuple[SupportStatus, SituacionRegistral, Channel, int]]

    @classmethod
    def of(cls, session: Session, aspirant_id: int) -> _Tally:
        columns = [col(Support.status), col(Support.situacion_registral), col(Support.channel)]
        statement = sa_select(*columns, func.count()).where(col(Support.aspirant_id) == aspirant_id).group_by(*columns)
        return cls(rows=[(SupportStatus(status), SituacionRegistral(situacion), Channel(channel), int(n))
                         for status, situacion, channel, n in session.execute(statement).all()])

    def counts(self) -> SupportCounts:
        return _counted((status, count) for status, _situacion, _channel, count in self.rows)

    def by_category(self, channel: Channel | None) -> dict[SituacionRegistral, int]:
        """Supports that do not count per situación registral, under the channel filter."""
        found: dict[SituacionRegistral, int] = {}
        for status, situacion, their_channel, count in self.rows:
            if status in NOT_COUNTING and channel in (None, their_channel):
                found[situacion] = found.get(situacion, 0) + count
        return found

    def by_channel(self, category: SituacionRegistral | None) -> dict[Channel, int]:
        """Supports that do not count per channel, under the category filter."""
        found: dict[Channel, int] = {}
        for status, situacion, channel, count in self.rows:
            if status in NOT_COUNTING and category in (None, situacion):
                found[channel] = found.get(channel, 0) + count
        return found


@dataclass(frozen=True)
class Label:
    """An inconsistency type's name in both UI languages (the catalogue is data, not gettext)."""

    es: str
    en: str

    def text(self, locale: str) -> str:
        return self.en if locale == "en" and self.en else self.es


@dataclass(frozen=True)
class Decision:
    level: ReviewLevel
    outcome: ReviewOutcome
    inconsistency: Label | None
    comment: str
    decided_at: datetime


@dataclass(frozen=True)
class RejectedRow:
    support_id: int
    folio: str
    received_at: datetime
    channel: Channel
    status: SupportStatus
    situacion: SituacionRegistral
    situacion_detail: str | None
    decision: Decision | None  # the latest one: its inconsistency and comment
    objection: ObjectionState | None  # the latest objection's state


@dataclass(frozen=True)
class RejectedQuery:
    aspirant_id: int
    category: SituacionRegistral | None = None
    channel: Channel | None = None
    before_id: int | None = None  # keyset: the page after the one that ended at this support


@dataclass
class RejectedPage:
    process: Process
    period: ObjectionPeriod
    counts: SupportCounts
    rows: list[RejectedRow]
    next_before_id: int | None
    by_category: dict[SituacionRegistral, int] = field(default_factory=dict)  # honours the channel filter
    by_channel: dict[Channel, int] = field(default_factory=dict)  # honours the category filter


def rejected_page(*, session: Session, query: RejectedQuery) -> RejectedPage:
    """One page (newest first) of the aspirant's supports that do not count, with the counts per filter value."""
    aspirant = session.get(Aspirant, query.aspirant_id)
    process = session.get(Process, aspirant.process_id) if aspirant else None
    assert process is not None, "the caller passes an aspirant from the person's own grants"
    supports = _page_supports(session, query)
    more = len(supports) > PAGE_SIZE
    supports = supports[:PAGE_SIZE]
    tally = _Tally.of(session, query.aspirant_id)
    return RejectedPage(
        process=process, period=ObjectionPeriod.of(process), counts=tally.counts(),
        rows=_rows(session, supports), next_before_id=supports[-1].id if more and supports else None,
        by_category=tally.by_category(query.channel), by_channel=tally.by_channel(query.category))


def _not_counting(aspirant_id: int) -> ColumnElement[bool]:
    return and_(col(Support.aspirant_id) == aspirant_id, col(Support.status).in_(NOT_COUNTING))


def _page_supports(session: Session, query: RejectedQuery) -> list[Support]:
    statement = select(Support).where(_not_counting(query.aspirant_id))
    if query.category is not None:
        statement = statement.where(Support.situacion_registral == query.category)
    if query.channel is not None:
        statement = statement.where(Support.channel == query.channel)
    if query.before_id is not None:
        statement = statement.where(col(Support.id) < query.before_id)
    return list(session.exec(statement.order_by(col(Support.id).desc()).limit(PAGE_SIZE + 1)).all())


def _rows(session: Session, supports: list[Support]) -> list[RejectedRow]:
    ids = [s.id for s in supports if s.id is not None]
    decisions = _latest_decisions(session, ids)
    objections = _latest_objections(session, ids)
    return [RejectedRow(support_id=s.id, folio=s.folio, received_at=s.received_at, channel=s.channel,
                        status=s.status, situacion=s.situacion_registral, situacion_detail=s.situacion_detail,
                        decision=decisions.get(s.id), objection=objections.get(s.id))
            for s in supports if s.id is not None]


def _decisions(session: Session, support_ids: Collection[int]) -> list[tuple[int, Decision]]:
    """Every decision on these supports, oldest first, with its inconsistency's name."""
    if not support_ids:
        return []
    rows = session.exec(
        select(ReviewDecision, InconsistencyType)
        .join(InconsistencyType, col(InconsistencyType.id) == col(ReviewDecision.inconsistency_id), isouter=True)
        .where(col(ReviewDecision.support_id).in_(support_ids))
        .order_by(col(ReviewDecision.decided_at), col(ReviewDecision.id))).all()
    return [(decision.support_id, Decision(
        level=decision.level, outcome=decision.outcome, comment=decision.comment, decided_at=decision.decided_at,
        inconsistency=Label(es=kind.label_es, en=kind.label_en) if kind is not None else None))
        for decision, kind in rows]


def _latest_decisions(session: Session, support_ids: Collection[int]) -> dict[int, Decision]:
    return dict(_decisions(session, support_ids))  # later rows replace earlier ones


def _latest_objections(session: Session, support_ids: Collection[int]) -> dict[int, ObjectionState]:
    if not support_ids:
        return {}
    rows = session.exec(select(Objection.support_id, Objection.state)
                        .where(col(Objection.support_id).in_(support_ids))
                        .order_by(col(Objection.filed_at), col(Objection.id))).all()
    return {support_id: ObjectionState(state) for support_id, state in rows}


@dataclass(frozen=True)
class CapturedData:
    """The identifiers as captured or typed (not the roll's)."""

    cic: str | None
    clave_elector: str | None
    ocr: str | None


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    status: SupportStatus
    situacion: SituacionRegistral
    reason: str | None  # None: the citizen's own report, which the page words neutrally


def _history(support: Support, events: list[SupportEvent]) -> list[HistoryEntry]:
    """The support's events; what its citizen reported («yo no di este apoyo») is not quoted to the aspirant, so
    nobody learns from this page which of the people they collected from complained."""
    citizen = support.citizen_account_id
    return [HistoryEntry(at=e.at, status=e.to_status, situacion=e.situacion_registral,
                         reason=None if citizen is not None and e.actor_account_id == citizen else e.reason)
            for e in events]


@dataclass
class SupportDetail:
    support: Support
    process: Process
    period: ObjectionPeriod
    captured: CapturedData
    history: list[HistoryEntry]
    decisions: list[Decision]
    objections: list[Objection]
    images: list[ImageKind]
    objection_refusal: Refusal | None  # why it cannot be contested now (None: the form is offered)


def support_detail(*, session: Session, aspirant_ids: Collection[int], support_id: int,
                   now: datetime) -> SupportDetail | None:
    """The support when it is one of these aspirants' (else None: the caller answers 404)."""
    support = support_of_aspirants(session=session, support_id=support_id, aspirant_ids=aspirant_ids)
    if support is None or support.id is None:
        return None
    process = session.get(Process, support.process_id)
    assert process is not None
    reading = session.get(CredentialReading, support.reading_id)
    events = list(session.exec(select(SupportEvent).where(SupportEvent.support_id == support.id)
                               .order_by(col(SupportEvent.at), col(SupportEvent.id))).all())
    objections = list(session.exec(select(Objection).where(Objection.support_id == support.id)
                                   .order_by(col(Objection.filed_at), col(Objection.id))).all())
    refusal = eligibility(support=support, process=process, now=now,
                          has_open_objection=bool(open_objection_ids(session, [support.id])))
    return SupportDetail(
        support=support, process=process, period=ObjectionPeriod.of(process),
        captured=CapturedData(cic=reading.cic if reading else support.cic, ocr=reading.ocr if reading else None,
                              clave_elector=reading.clave_elector if reading else support.clave_elector),
        history=_history(support, events), decisions=[d for _, d in _decisions(session, [support.id])],
        objections=objections,
        images=sorted(evidence_images(session=session, support=support), key=list(ImageKind).index),
        objection_refusal=refusal)


def aspirant_evidence(*, session: Session, store: ImageStore, aspirant_ids: Collection[int], support_id: int,
                      kind: ImageKind) -> Evidence | None:
    """An image of one of these aspirants' supports; None for anybody else's or a kind the support lacks."""
    support = support_of_aspirants(session=session, support_id=support_id, aspirant_ids=aspirant_ids)
    return read_evidence(session=session, store=store, support=support, kind=kind)
