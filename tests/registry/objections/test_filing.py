"""Filing objections (garantía de audiencia): only the aspirant's own rejected supports, once, within the
period, all or nothing for a selection."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from auth.roles import Role
from core.audit import AuditEvent
from core.clock import utcnow
from core.db import make_engine, session_scope
from registry.models import Objection, Process, SupportEvent
from registry.objections.filing import (
    FILED_REASON,
    ArgumentProblem,
    ObjectionsRefused,
    Refusal,
    file_objections,
)
from registry.states import ObjectionState, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from tests.factories.accounts import make_account
from tests.factories.objections import rejected_support, valid_support
from tests.factories.processes import make_aspirant


def _file(session: Session, aspirant_id: int, support_ids: list[int], argument: str = "La credencial es válida",
          **extra: object) -> list[int]:
    account = make_account(session, role=Role.ASPIRANT, aspirant_id=aspirant_id)
    assert account.id is not None
    return file_objections(session=session, aspirant_ids={aspirant_id}, support_ids=support_ids, argument=argument,
                           actor_account_id=account.id, now=extra.get("now", utcnow()))  # type: ignore[arg-type]


def test_an_objection_contests_the_support_keeping_its_category_with_an_event_and_an_audit_row(
        session: Session) -> None:
    aspirant = make_aspirant(session)
    support = rejected_support(session, aspirant=aspirant, situacion=SituacionRegistral.BAJA)
    assert aspirant.id is not None and support.id is not None
    [objection_id] = _file(session, aspirant.id, [support.id], "  Sigue vigente:\r\nver la foto.  ")
    objection = session.get(Objection, objection_id)
    assert objection is not None
    assert (objection.state, objection.argument) == (ObjectionState.FILED, "Sigue vigente:\nver la foto.")
    assert (support.status, support.situacion_registral) == (SupportStatus.CONTESTED, SituacionRegistral.BAJA)
    last = session.exec(select(SupportEvent).where(SupportEvent.support_id == support.id)
                        .order_by(col(SupportEvent.id).desc())).first()
    assert last is not None and (last.from_status, last.to_status, last.reason) == (
        SupportStatus.INVALID, SupportStatus.CONTESTED, FILED_REASON)
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "objection_filed")).one()
    assert audit.object_id == str(support.id) and "Sigue" not in audit.after_summary


def test_filing_twice_is_refused(session: Session) -> None:
    aspirant = make_aspirant(session)
    support = rejected_support(session, aspirant=aspirant)
    assert aspirant.id is not None and support.id is not None
    _file(session, aspirant.id, [support.id])
    with pytest.raises(ObjectionsRefused) as refused:
        _file(session, aspirant.id, [support.id])
    assert [r.refusal for r in refused.value.supports] == [Refusal.ALREADY_OPEN]
    assert len(session.exec(select(Objection)).all()) == 1


def test_another_aspirants_support_is_not_found_and_nothing_is_filed(session: Session) -> None:
    mine, theirs = make_aspirant(session), make_aspirant(session, name="Otra Persona")
    other = rejected_support(session, aspirant=theirs)
    assert mine.id is not None and other.id is not None
    with pytest.raises(ObjectionsRefused) as refused:
        _file(session, mine.id, [other.id])
    assert [(r.folio, r.refusal) for r in refused.value.supports] == [(None, Refusal.NOT_FOUND)]
    assert other.status is SupportStatus.INVALID and session.exec(select(Objection)).all() == []


def test_a_selection_with_one_ineligible_support_files_none_and_names_it(session: Session) -> None:
    aspirant = make_aspirant(session)
    first, second = rejected_support(session, aspirant=aspirant), rejected_support(session, aspirant=aspirant)
    counting = valid_support(session, aspirant=aspirant)
    assert aspirant.id is not None and first.id and second.id and counting.id
    with pytest.raises(ObjectionsRefused) as refused:
        _file(session, aspirant.id, [first.id, counting.id, second.id])
    assert [(r.folio, r.refusal) for r in refused.value.supports] == [(counting.folio, Refusal.NOT_REJECTED)]
    assert session.exec(select(Objection)).all() == []
    assert first.status is SupportStatus.INVALID and second.status is SupportStatus.INVALID


@pytest.mark.parametrize(("opens", "closes", "refusal"), [
    (timedelta(days=1), None, Refusal.BEFORE_PERIOD),
    (None, timedelta(days=-1), Refusal.AFTER_PERIOD),
    (timedelta(days=-3), timedelta(days=-1), Refusal.AFTER_PERIOD),
])
def test_filing_outside_the_period_is_refused_with_the_period(session: Session, opens: timedelta | None,
                                                              closes: timedelta | None, refusal: Refusal) -> None:
    aspirant = make_aspirant(session)
    support = rejected_support(session, aspirant=aspirant)
    row = session.get(Process, aspirant.process_id)
    assert row is not None and aspirant.id is not None and support.id is not None
    now = utcnow()
    row.objections_open_at = now + opens if opens is not None else None
    row.objections_close_at = now + closes if closes is not None else None
    session.add(row)
    session.flush()
    with pytest.raises(ObjectionsRefused) as refused:
        _file(session, aspirant.id, [support.id], now=now)
    assert [r.refusal for r in refused.value.supports] == [refusal]
    assert refused.value.period is not None and refused.value.period.closes_at == row.objections_close_at


def test_within_the_period_it_is_filed(session: Session) -> None:
    aspirant = make_aspirant(session)
    support = rejected_support(session, aspirant=aspirant)
    row = session.get(Process, aspirant.process_id)
    assert row is not None and aspirant.id is not None and support.id is not None
    now = utcnow()
    row.objections_open_at, row.objections_close_at = now - timedelta(days=1), now + timedelta(days=1)
    session.add(row)
    assert len(_file(session, aspirant.id, [support.id], now=now)) == 1


@pytest.mark.parametrize(("argument", "problem"), [
    ("   \n ", ArgumentProblem.MISSING),
    ("a" * 4001, ArgumentProblem.TOO_LONG),
    ("válida\x00", ArgumentProblem.CHARACTERS),
    ("texto \u202e oculto", ArgumentProblem.CHARACTERS),
])
def test_a_bad_argument_is_refused(session: Session, argument: str, problem: ArgumentProblem) -> None:
    aspirant = make_aspirant(session)
    support = rejected_support(session, aspirant=aspirant)
    assert aspirant.id is not None and support.id is not None
    with pytest.raises(ObjectionsRefused) as refused:
        _file(session, aspirant.id, [support.id], argument)
    assert refused.value.argument is problem and support.status is SupportStatus.INVALID


def test_the_longest_argument_after_trimming_is_accepted(session: Session) -> None:
    aspirant = make_aspirant(session)
    support = rejected_support(session, aspirant=aspirant)
    assert aspirant.id is not None and support.id is not None
    assert len(_file(session, aspirant.id, [support.id], "  " + "a" * 4000 + "  ")) == 1


def test_an_empty_selection_is_refused(session: Session) -> None:
    aspirant = make_aspirant(session)
    assert aspirant.id is not None
    with pytest.raises(ObjectionsRefused) as refused:
        _file(session, aspirant.id, [])
    assert refused.value.none_selected


def test_after_a_dismissal_the_support_may_be_contested_again(session: Session) -> None:
    aspirant = make_aspirant(session)
    support = rejected_support(session, aspirant=aspirant)
    assert aspirant.id is not None and support.id is not None
    [first] = _file(session, aspirant.id, [support.id])
    objection = session.get(Objection, first)
    assert objection is not None
    objection.state = ObjectionState.DISMISSED
    session.add(objection)
    record_transition(session=session, support=support, to_status=SupportStatus.INVALID,
                      situacion=support.situacion_registral, reason="objeción improcedente", actor_account_id=None,
                      now=utcnow())
    session.flush()
    assert len(_file(session, aspirant.id, [support.id])) == 1


def test_racing_filings_of_one_support_file_one_objection(engine: Engine, database_url: str) -> None:
    racers = 4
    app_engine = make_engine(database_url)  # configured as the app's: on SQLite, writers queue at BEGIN
    with session_scope(engine) as session:
        aspirant = make_aspirant(session)
        support = rejected_support(session, aspirant=aspirant)
        account = make_account(session, role=Role.ASPIRANT, aspirant_id=aspirant.id)
        aspirant_id, support_id, account_id = aspirant.id, support.id, account.id
    assert aspirant_id is not None and support_id is not None and account_id is not None
    start = threading.Barrier(racers)

    def file(_: int) -> bool:
        start.wait()
        try:
            with session_scope(app_engine) as session:
                file_objections(session=session, aspirant_ids={aspirant_id}, support_ids=[support_id],
                                argument="vigente", actor_account_id=account_id, now=utcnow())
        except ObjectionsRefused:
            return False
        return True

    with ThreadPoolExecutor(racers) as pool:
        filed = list(pool.map(file, range(racers)))
    app_engine.dispose()
    assert sum(filed) == 1
    with Session(engine) as session:
        assert len(session.exec(select(Objection)).all()) == 1
