"""The daily report: one e-mail per process to the OPL's staff (every aspirant) and one to each aspirant (their
own figures), through the outbox, with the figures at the end of the reported day and a link; once per day, also
when two runs race (the DailyReport key is the guard)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from auth.roles import Role
from core.audit import OutboxMessage
from core.clock import utcnow
from core.db import session_scope
from registry.models import Aspirant, DailyReport, Opl, Process
from registry.reports.daily import DailyLinks, due_processes, report_day, send_daily
from registry.verification.compulsa import verify_process
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import citizen, make_roll, place_support

ZONE = ZoneInfo("America/Mexico_City")
DAY = (utcnow().astimezone(ZONE) - timedelta(days=2)).date()  # the day reported: over, inside the process
LINKS = DailyLinks(staff=lambda process_id: f"https://registro.example/opl/procesos/{process_id}/reportes",
                   aspirant="https://registro.example/aspirante/avance")


def local(day: date, hour: int) -> datetime:
    """That hour in central Mexico, as the app's clock gives it (UTC)."""
    return datetime.combine(day, time(hour), ZONE).astimezone(UTC)


@pytest.fixture
def opl(session: Session, process: Process) -> Opl:
    found = session.get(Opl, process.opl_id)
    assert found is not None
    return found


def _aspirant(session: Session, process: Process, name: str, *, accepted: bool = True) -> Aspirant:
    aspirant = make_aspirant(session, process=process, name=name)
    if accepted:
        aspirant.account_id = make_account(session, name=name, role=Role.ASPIRANT, aspirant_id=aspirant.id).id
        session.add(aspirant)
        session.flush()
    return aspirant


@pytest.fixture
def staged(session: Session, process: Process, opl: Opl) -> tuple[Aspirant, Aspirant]:
    """Ana: one support counted the day before, one received and counted on the day, one received on the day and
    verified only the next morning. Beto: one counted on the day. Carla was invited and never accepted."""
    ana, beto = _aspirant(session, process, "Ana Aspirante"), _aspirant(session, process, "Beto Aspirante")
    _aspirant(session, process, "Carla Aspirante", accepted=False)
    make_account(session, name="Admin", email="Admin@OPL.mx", role=Role.OPL_ADMIN, opl_id=opl.id)
    make_account(session, name="Revisora", email="revisora@opl.mx", role=Role.REVIEWER, opl_id=opl.id)
    gone = make_account(session, name="Ex revisor", email="ex@opl.mx", role=Role.REVIEWER, opl_id=opl.id)
    gone.is_active = False
    session.add(gone)
    make_account(session, name="Otro OPL", email="otro@opl.mx", role=Role.REVIEWER, opl_id=make_opl(session).id)
    people = [citizen() for _ in range(4)]
    make_roll(session, opl=opl, citizens=people)
    plan = [(ana, people[0], local(DAY - timedelta(days=1), 10), local(DAY - timedelta(days=1), 11)),
            (ana, people[1], local(DAY, 9), local(DAY, 10)), (beto, people[2], local(DAY, 12), local(DAY, 13)),
            (ana, people[3], local(DAY, 22), local(DAY + timedelta(days=1), 1))]
    for aspirant, person, received, verified in plan:
        support = place_support(session, aspirant_id=aspirant.id or 0, process_id=process.id or 0, cic=person.cic,
                                received_at=received)
        verify_process(session=session, process_id=process.id or 0, now=verified, support_ids=[support.id or 0])
        session.commit()  # the compulsa's work table belongs to its transaction
    return ana, beto


def _mail(session: Session) -> dict[str, str]:
    return {m.to_address: m.body for m in session.exec(select(OutboxMessage))}


def test_staff_get_every_aspirant_and_each_aspirant_their_own_figures_at_the_days_end(
        session: Session, process: Process, staged: tuple[Aspirant, Aspirant]) -> None:
    assert process.id is not None
    sent = send_daily(session=session, process_id=process.id, day=DAY, links=LINKS, now=utcnow())
    assert (sent.messages, sent.already_sent) == (4, False)
    mail = _mail(session)
    assert set(mail) == {"admin@opl.mx", "revisora@opl.mx", "ana@x.mx", "beto@x.mx"}  # not Carla, not the others
    staff, ana = mail["admin@opl.mx"], mail["ana@x.mx"]
    assert mail["revisora@opl.mx"] == staff
    when = f"{DAY:%d/%m/%Y}"
    assert f"al cierre del {when}" in staff and "Beto Aspirante" in staff and "Carla Aspirante" in staff
    ana_block = staff[staff.index("Ana Aspirante"):staff.index("Beto Aspirante")]
    # At the end of the day the late support was still waiting for the compulsa (verified the next morning).
    assert f"Apoyos enviados: 3 (2 recibidos el {when})" in ana_block
    assert "En Lista Nominal: 2" in ana_block and "En procesamiento: 1" in ana_block
    assert "Requeridos: 1 · alcanzado: 200.00 %" in ana_block  # 3 % of the roll's 4 citizens
    assert f"https://registro.example/opl/procesos/{process.id}/reportes" in staff
    assert "Ana Aspirante" in ana and "Beto" not in ana and "Carla" not in ana  # only their own figures
    assert "https://registro.example/aspirante/avance" in ana and "/opl/" not in ana
    for body in mail.values():  # nothing of the citizens: no folio, no clave, no CIC
        assert "RC-" not in body and not any(p in body for p in ("LOPEMA", "1000000"))
    assert session.get(DailyReport, (process.id, DAY)).messages == 4  # type: ignore[union-attr]


def test_a_second_run_of_the_day_sends_nothing(session: Session, process: Process,
                                               staged: tuple[Aspirant, Aspirant]) -> None:
    assert process.id is not None
    send_daily(session=session, process_id=process.id, day=DAY, links=LINKS, now=utcnow())
    session.commit()
    again = send_daily(session=session, process_id=process.id, day=DAY, links=LINKS, now=utcnow())
    assert (again.messages, again.already_sent) == (0, True)
    assert len(session.exec(select(OutboxMessage)).all()) == 4
    other_day = send_daily(session=session, process_id=process.id, day=DAY - timedelta(days=1), links=LINKS,
                           now=utcnow())
    assert other_day.messages == 4  # the key is the day: another day is another report


def test_two_runs_at_once_send_one_report(engine: Engine, app_engine: Engine, session: Session, process: Process,
                                          staged: tuple[Aspirant, Aspirant]) -> None:
    assert process.id is not None
    session.commit()
    results, failures = [], []

    def run() -> None:
        try:
            with session_scope(app_engine) as db:
                results.append(send_daily(session=db, process_id=process.id or 0, day=DAY, links=LINKS,
                                          now=utcnow()))
        except Exception as error:  # reported by the assertion below
            failures.append(error)

    runs = [threading.Thread(target=run) for _ in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    assert failures == []
    assert sorted(r.already_sent for r in results) == [False, True]
    with Session(engine) as db:
        assert len(db.exec(select(OutboxMessage)).all()) == 4
        assert len(db.exec(select(DailyReport)).all()) == 1


def test_a_run_that_missed_the_other_runs_row_is_stopped_by_the_key(
        engine: Engine, app_engine: Engine, session: Session, process: Process,
        staged: tuple[Aspirant, Aspirant]) -> None:
    """The worst interleaving, made deterministic: the second run looked before the first committed (its snapshot
    has no row), so only the unique key stops it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time (BEGIN IMMEDIATE): a second run always sees the first's row")
    assert process.id is not None
    session.commit()
    with Session(app_engine) as late:
        late.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        assert late.get(DailyReport, (process.id, DAY)) is None  # its snapshot starts here
        with session_scope(app_engine) as first:
            assert not send_daily(session=first, process_id=process.id, day=DAY, links=LINKS,
                                  now=utcnow()).already_sent
        second = send_daily(session=late, process_id=process.id, day=DAY, links=LINKS, now=utcnow())
        late.commit()
    assert (second.already_sent, second.messages) == (True, 0)
    with Session(engine) as db:
        assert len(db.exec(select(OutboxMessage)).all()) == 4


def test_only_processes_open_on_the_day_and_days_that_are_over_are_due(session: Session) -> None:
    opl, now = make_opl(session), utcnow()
    open_now = make_process(session, opl=opl)
    closed_yesterday = make_process(session, opl=opl, opens=now - timedelta(days=20), closes=now - timedelta(hours=20))
    closed_long_ago = make_process(session, opl=opl, opens=now - timedelta(days=20), closes=now - timedelta(days=3))
    today = now.astimezone(ZONE).date()
    opens_today = make_process(session, opl=opl, opens=datetime.combine(today, time(), ZONE),
                               closes=now + timedelta(days=9))
    yesterday = report_day(open_now, now)
    assert yesterday == today - timedelta(days=1)
    due = dict(due_processes(session=session, now=now))
    assert due == {open_now.id: yesterday, closed_yesterday.id: yesterday}
    assert closed_long_ago.id not in due and opens_today.id not in due
    assert due_processes(session=session, now=now, day=today) == []  # not over yet: nobody's report
