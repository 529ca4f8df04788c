"""«Yo no di este apoyo»: the citizen's report sends the support to the mesa de control, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, func, select

from auth.models import Account
from core.audit import AuditEvent
from core.clock import utcnow
from registry.citizen_supports import my_supports
from registry.disown import DISOWN_REASON, UnknownSupport, disown_support
from registry.models import Opl, Process, Support, SupportEvent, SupportFlag
from registry.states import ReviewFlag, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from registry.verification.compulsa import verify_process
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import citizen, make_roll, place_support


def _support_of(session: Session, account: Account, status: SupportStatus = SupportStatus.RECEIVED,
                cic: str = "300000001") -> Support:
    aspirant = make_aspirant(session, process=make_process(session, opl=make_opl(session)))
    assert aspirant.id is not None
    support = place_support(session, aspirant_id=aspirant.id, process_id=aspirant.process_id, cic=cic)
    support.citizen_account_id = account.id
    if status is not SupportStatus.RECEIVED:
        situacion = SituacionRegistral.EN_LISTA_NOMINAL if status is SupportStatus.VALID else (
            SituacionRegistral.DATOS_NO_ENCONTRADOS)
        record_transition(session=session, support=support, to_status=status, situacion=situacion, reason="prueba",
                          actor_account_id=None, now=utcnow())
    session.commit()
    return support


def _events(session: Session, support: Support) -> list[tuple[SupportStatus | None, SupportStatus, str]]:
    rows = session.exec(select(SupportEvent).where(SupportEvent.support_id == support.id)
                        .order_by(col(SupportEvent.id))).all()
    return [(row.from_status, row.to_status, row.reason) for row in rows]


def _disown(session: Session, account: Account, support: Support) -> bool:
    assert account.id is not None
    result = disown_support(session=session, account_id=account.id, folio=support.folio, now=utcnow())
    session.commit()
    session.refresh(support)
    return result.reported_now


def _audits(session: Session) -> int:
    return session.exec(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "support_disowned")).one()


@pytest.mark.parametrize("status", [SupportStatus.VALID, SupportStatus.RECEIVED, SupportStatus.IN_REVIEW])
def test_a_support_that_counts_or_is_pending_goes_back_to_review_with_an_event(session: Session,
                                                                              status: SupportStatus) -> None:
    account = make_account(session)
    support = _support_of(session, account, status)
    assert _disown(session, account, support)
    assert support.status is SupportStatus.IN_REVIEW
    assert _events(session, support)[-1] == (status, SupportStatus.IN_REVIEW, DISOWN_REASON)
    assert session.get(SupportFlag, (support.id, ReviewFlag.DISOWNED)) is not None
    assert _audits(session) == 1


def test_an_invalid_support_stays_invalid_but_is_flagged(session: Session) -> None:
    account = make_account(session)
    support = _support_of(session, account, SupportStatus.INVALID)
    events_before = _events(session, support)
    assert _disown(session, account, support)
    assert support.status is SupportStatus.INVALID and _events(session, support) == events_before
    assert session.get(SupportFlag, (support.id, ReviewFlag.DISOWNED)) is not None
    assert _audits(session) == 1


def test_reporting_twice_changes_nothing(session: Session) -> None:
    account = make_account(session)
    support = _support_of(session, account, SupportStatus.VALID)
    assert _disown(session, account, support)
    events = _events(session, support)
    assert not _disown(session, account, support)
    assert _events(session, support) == events and _audits(session) == 1
    assert session.exec(select(func.count()).select_from(SupportFlag)).one() == 1


def test_another_accounts_support_is_refused_as_if_it_did_not_exist(session: Session) -> None:
    owner, other = make_account(session), make_account(session, name="Otra Persona")
    support = _support_of(session, owner, SupportStatus.VALID)
    assert other.id is not None
    for folio in (support.folio, "RC-NOEXISTE00"):
        with pytest.raises(UnknownSupport):
            disown_support(session=session, account_id=other.id, folio=folio, now=utcnow())
    session.rollback()
    session.refresh(support)
    assert support.status is SupportStatus.VALID and _audits(session) == 0
    assert session.exec(select(func.count()).select_from(SupportFlag)).one() == 0


def test_the_citizens_list_shows_the_report(session: Session) -> None:
    account = make_account(session)
    support = _support_of(session, account, SupportStatus.VALID)
    assert account.id is not None
    assert [mine.disowned for mine in my_supports(session=session, account_id=account.id)] == [False]
    _disown(session, account, support)
    assert [mine.disowned for mine in my_supports(session=session, account_id=account.id)] == [True]


def test_the_compulsa_keeps_a_disowned_support_in_review_although_it_matches_the_roll(session: Session) -> None:
    account = make_account(session)
    person = citizen()
    support = _support_of(session, account, cic=person.cic)
    process = session.get(Process, support.process_id)
    opl = session.get(Opl, process.opl_id) if process else None
    assert opl is not None
    make_roll(session, opl=opl, citizens=[person])
    _disown(session, account, support)
    for _ in range(2):  # and again: a second pass changes nothing
        verify_process(session=session, process_id=support.process_id, now=utcnow() + timedelta(minutes=1))
        session.commit()
        session.refresh(support)
        assert (support.status, support.situacion_registral) == (SupportStatus.IN_REVIEW,
                                                                 SituacionRegistral.EN_LISTA_NOMINAL)
