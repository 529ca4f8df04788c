"""The first-level queue's counts at the size of a real process: every filter's counts are summed from one grouped
query (bench/desk.py measured one scan per filter at a second for 100,000 supports), and they must stay what
counting each filter alone gives, for any mix of filters."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import MEXICO_CITY
from registry.models import Support, SupportFlag
from registry.review.queue import QueueFilters, first_level_queue
from registry.states import Channel, ReviewFlag, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from tests.factories.processes import make_aspirant, make_auxiliary
from tests.factories.review import Desk, in_review, make_desk
from tests.factories.sql import reads_of

DAYS = [datetime(2026, 11, 1 + d, tzinfo=MEXICO_CITY) for d in range(3)]


@pytest.fixture
def desk(session: Session) -> Desk:
    return make_desk(session)


def _mixed_supports(session: Session, desk: Desk) -> dict[str, int]:
    """Forty supports over two aspirants, two auxiliaries, three channels, three local days (late evenings
    included: already the next day in UTC), every status the desk filters on, and one or two flags each."""
    draw = random.Random(7)
    other = make_aspirant(session, process=desk.process, name="Otra Aspirante")
    auxiliaries = [make_auxiliary(session, aspirant=desk.aspirant), make_auxiliary(session, aspirant=other)]
    ending = [(SupportStatus.IN_REVIEW, SituacionRegistral.EN_LISTA_NOMINAL)] * 3 + [
        (SupportStatus.VALID, SituacionRegistral.EN_LISTA_NOMINAL), (SupportStatus.INVALID, SituacionRegistral.BAJA),
        (SupportStatus.INVALID, SituacionRegistral.CON_INCONSISTENCIA)]
    for _ in range(40):
        mine = draw.random() < 0.6
        channel = draw.choice([Channel.AUXILIARY, Channel.AUXILIARY, Channel.PAPER, Channel.CITIZEN])
        at = draw.choice(DAYS) + timedelta(hours=draw.choice([1, 9, 15, 23]), minutes=draw.randrange(60))
        flags = tuple(draw.sample(sorted(ReviewFlag), draw.randint(1, 2)))
        support = in_review(session, desk, flags=flags, channel=channel, received_at=at,
                            aspirant_id=desk.aspirant.id if mine else other.id)
        if channel is Channel.AUXILIARY and draw.random() < 0.7:
            support.auxiliary_id = auxiliaries[0 if mine else 1].id
        status, situacion = draw.choice(ending)
        if status is not SupportStatus.IN_REVIEW:
            record_transition(session=session, support=support, to_status=status, situacion=situacion,
                              reason="prueba", actor_account_id=None, now=at + timedelta(seconds=2))
    session.flush()
    return {"mine": desk.aspirant.id or 0, "other": other.id or 0, "aux": auxiliaries[0].id or 0}


def _expected(session: Session, process_id: int, filters: QueueFilters) -> tuple[int, dict[str, Counter[str]]]:
    """Each filter's counts as counting it alone, with the other filters applied, gives (in Python)."""
    supports = list(session.exec(select(Support).where(Support.process_id == process_id)))
    flags: dict[int, list[str]] = {}
    for flag in session.exec(select(SupportFlag).where(col(SupportFlag.support_id).in_([s.id for s in supports]))):
        flags.setdefault(flag.support_id, []).append(str(flag.flag))
    values = {s.id: {"estado": str(s.status), "situacion": str(s.situacion_registral),
                     "aspirante": str(s.aspirant_id), "auxiliar": str(s.auxiliary_id) if s.auxiliary_id else None,
                     "canal": str(s.channel), "fecha": s.received_at.astimezone(MEXICO_CITY).date().isoformat()}
              for s in supports}
    wanted = {"estado": str(filters.effective_status), "situacion": filters.situacion,
              "aspirante": filters.aspirant_id, "auxiliar": filters.auxiliary_id, "canal": filters.channel,
              "fecha": filters.received_on.isoformat() if filters.received_on else None}

    def passes(support_id: int | None, leave_out: str) -> bool:
        assert support_id is not None
        if filters.flag is not None and leave_out != "marca" and str(filters.flag) not in flags.get(support_id, []):
            return False
        return all(want is None or name == leave_out or values[support_id][name] == str(want)
                   for name, want in wanted.items())

    counts: dict[str, Counter[str]] = {}
    for name in wanted:
        counts[name] = Counter(v for s in supports if passes(s.id, name) and (v := values[s.id][name]) is not None)
    counts["marca"] = Counter(flag for s in supports if passes(s.id, "marca") for flag in flags.get(s.id or 0, []))
    return sum(1 for s in supports if passes(s.id, "")), counts


def test_every_filters_counts_are_what_counting_it_alone_gives_for_any_mix_of_filters(session: Session,
                                                                                      desk: Desk) -> None:
    ids = _mixed_supports(session, desk)
    day = DAYS[1].date()
    mixes = [
        QueueFilters(), QueueFilters(aspirant_id=ids["other"]), QueueFilters(channel=Channel.PAPER, received_on=day),
        QueueFilters(situacion=SituacionRegistral.EN_LISTA_NOMINAL, auxiliary_id=ids["aux"]),
        QueueFilters(status=SupportStatus.INVALID), QueueFilters(status=SupportStatus.INVALID,
                                                                  situacion=SituacionRegistral.BAJA),
        QueueFilters(flag=ReviewFlag.SAMPLE, aspirant_id=ids["mine"]),
        QueueFilters(flag=ReviewFlag.MANUAL_CAPTURE, channel=Channel.AUXILIARY, received_on=day,
                     aspirant_id=ids["mine"], auxiliary_id=ids["aux"]),
    ]
    for filters in mixes:
        queue = first_level_queue(session=session, process_id=desk.process_id, opl_ids=desk.opl_ids,
                                  filters=filters)
        total, expected = _expected(session, desk.process_id, filters)
        assert queue.total == total, filters
        assert {facet.name: Counter({value: n for value, _label, n in facet.counts}) for facet in queue.facets} \
            == expected, filters
        assert len(queue.items) == min(total, 50), filters
    assert any(_expected(session, desk.process_id, QueueFilters(status=status))[0]
               for status in (SupportStatus.VALID, SupportStatus.INVALID))  # the mix has every kind


def test_the_queue_page_reads_the_supports_four_times_whatever_the_filters(session: Session, desk: Desk,
                                                                          engine: Engine) -> None:
    """The items listed, the combinations of the column filters, the statuses, the flags: not one read per filter
    (nine before), each of which walks every support of the process."""
    ids = _mixed_supports(session, desk)
    for filters in (QueueFilters(), QueueFilters(flag=ReviewFlag.SAMPLE, aspirant_id=ids["mine"],
                                                 received_on=DAYS[0].date())):
        with reads_of(engine, "support") as reads:
            first_level_queue(session=session, process_id=desk.process_id, opl_ids=desk.opl_ids, filters=filters)
        assert len(reads) == 4, reads
