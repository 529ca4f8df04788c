"""Tamper-evident history (issue 14, deliverable 5): audit rows and support events are hash chains, and
`verify_chains` finds any edited, inserted or deleted row and says where (stream, seq, row id); a daily report's
anchor catches a tail cut off with its head rewritten; concurrent writers never fork a chain; the compulsa's
set-based events are chained too."""

from __future__ import annotations

import json
import threading
from datetime import date
from pathlib import Path

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from auth.roles import Role
from core.audit import AuditEvent, ChainHead, OutboxMessage, record_audit
from core.clock import utcnow
from core.db import make_engine, session_scope
from registry import migrate
from registry.audit_chain import AUDIT_STREAM, GENESIS, row_hash, support_stream
from registry.audit_verify import Finding, verify_chains
from registry.models import DailyReport, Opl, Process, Support, SupportEvent
from registry.reports.daily import DailyLinks, send_daily
from registry.states import SituacionRegistral, SupportStatus
from registry.supports import record_transition
from registry.verification.compulsa import verify_process
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant
from tests.factories.roll import citizen, make_roll, place_support

LINKS = DailyLinks(staff=lambda process_id: f"https://registro.example/opl/procesos/{process_id}/reportes",
                   aspirant="https://registro.example/aspirante/avance")


def _supports(session: Session, process: Process, count: int) -> list[Support]:
    """`count` received supports (one event each) and an audit row per support, committed."""
    assert process.id is not None
    aspirant = make_aspirant(session, process=process)
    placed = [place_support(session, aspirant_id=aspirant.id or 0, process_id=process.id) for _ in range(count)]
    for support in placed:
        record_audit(session, action="prueba", object_type="support", object_id=support.id, after="recibido")
    session.commit()
    return placed


def _findings(engine: Engine, streams: list[str] | None = None) -> list[Finding]:
    with Session(engine) as fresh:
        return list(verify_chains(session=fresh, streams=streams))


def _raw(engine: Engine, sql: str, **params: object) -> None:
    with engine.begin() as connection:
        connection.execute(text(sql), params)


def _links(engine: Engine, table: str, stream: str) -> list[tuple[int, int, str, str]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(  # type: ignore[misc]
            f"SELECT id, chain_seq, prev_hash, row_hash FROM {table} WHERE chain_stream = :s ORDER BY chain_seq"),
            {"s": stream})]


def test_a_clean_history_verifies_and_every_row_is_linked_in_order(engine: Engine, session: Session,
                                                                   process: Process) -> None:
    _supports(session, process, 3)
    events = _links(engine, "supportevent", support_stream(process.id or 0))
    assert [seq for _id, seq, _prev, _hash in events] == [1, 2, 3]
    assert [prev for _id, _seq, prev, _hash in events] == [GENESIS, events[0][3], events[1][3]]
    assert [row_id for row_id, *_ in events] == sorted(row_id for row_id, *_ in events)  # id order
    head = session.get(ChainHead, support_stream(process.id or 0))
    assert head is not None and (head.seq, head.head_hash) == (3, events[-1][3])
    audit = _links(engine, "auditevent", AUDIT_STREAM)
    assert [seq for _id, seq, _prev, _hash in audit] == list(range(1, len(audit) + 1)) and len(audit) >= 3
    assert session.exec(select(SupportEvent).where(col(SupportEvent.chain_seq).is_(None))).all() == []
    assert _findings(engine) == []


def test_the_hash_is_the_documented_serialisation(engine: Engine, session: Session, process: Process) -> None:
    """An outsider recomputes a row's hash from the module's description alone."""
    import hashlib

    _supports(session, process, 1)
    event = session.exec(select(SupportEvent)).one()
    text_form = json.dumps({"table": "supportevent", "id": event.id, "stream": event.chain_stream,
                            "seq": event.chain_seq, "prev": event.prev_hash,
                            "row": {"support_id": event.support_id, "from_status": None, "to_status": "received",
                                    "situacion_registral": "sin_verificar", "reason": "recibido",
                                    "actor_account_id": None,
                                    "at": event.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "state_code": None,
                                    "district": None, "municipality": None, "seccion": None}},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    with Session(engine) as fresh:
        stored = fresh.get(SupportEvent, event.id)
        assert stored is not None and stored.row_hash == hashlib.sha256(text_form.encode("utf-8")).hexdigest()


def test_an_edited_row_is_found_with_its_seq(engine: Engine, session: Session, process: Process) -> None:
    _supports(session, process, 3)
    stream = support_stream(process.id or 0)
    row_id = _links(engine, "supportevent", stream)[1][0]
    _raw(engine, "UPDATE supportevent SET to_status = 'valid' WHERE id = :id", id=row_id)
    assert [(f.stream, f.seq, f.row_id, f.kind) for f in _findings(engine)] == [(stream, 2, row_id, "edited")]


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(engine: Engine, session: Session,
                                                                process: Process) -> None:
    _supports(session, process, 3)
    stream = support_stream(process.id or 0)
    links = _links(engine, "supportevent", stream)
    _raw(engine, "UPDATE supportevent SET reason = 'otro', row_hash = :h WHERE id = :id", h="f" * 64, id=links[1][0])
    kinds = {(f.seq, f.kind) for f in _findings(engine)}
    assert (3, "inserted") in kinds  # its successor's prev_hash no longer matches: where the chain breaks


def test_a_deleted_row_is_found(engine: Engine, session: Session, process: Process) -> None:
    _supports(session, process, 3)
    audit = _links(engine, "auditevent", AUDIT_STREAM)
    _raw(engine, "DELETE FROM auditevent WHERE id = :id", id=audit[1][0])
    found = _findings(engine)
    assert [(f.stream, f.seq, f.row_id, f.kind) for f in found] == [(AUDIT_STREAM, 3, audit[2][0], "deleted")]
    assert "seq 2 missing" in str(found[0])


def test_a_deleted_last_row_is_found_at_the_head(engine: Engine, session: Session, process: Process) -> None:
    _supports(session, process, 2)
    stream = support_stream(process.id or 0)
    _raw(engine, "DELETE FROM supportevent WHERE id = :id", id=_links(engine, "supportevent", stream)[-1][0])
    assert [(f.stream, f.kind) for f in _findings(engine)] == [(stream, "head")]


def test_a_forged_row_is_found_wherever_it_goes(engine: Engine, session: Session, process: Process) -> None:
    """Inserted in the middle (the later rows renumbered to make room), appended with a correct hash but the head
    left alone, or written outside the chain: each is found."""
    _supports(session, process, 3)
    audit = _links(engine, "auditevent", AUDIT_STREAM)
    last_id, last_seq, _prev, last_hash = audit[-1]
    at = utcnow()
    forged = {"actor_account_id": None, "action": "falso", "object_type": "support", "object_id": "1",
              "before_summary": "", "after_summary": "", "at": at}
    insert = ("INSERT INTO auditevent (id, actor_account_id, action, object_type, object_id, before_summary, "
              "after_summary, at, chain_stream, chain_seq, prev_hash, row_hash) VALUES (:id, NULL, 'falso', "
              "'support', '1', '', '', :at, :stream, :seq, :prev, :hash)")
    digest = row_hash(table="auditevent", row_id=last_id + 100, stream=AUDIT_STREAM, seq=last_seq + 1,
                      prev=last_hash, values=forged)
    _raw(engine, insert, id=last_id + 100, at=at, stream=AUDIT_STREAM, seq=last_seq + 1, prev=last_hash, hash=digest)
    assert [(f.seq, f.kind) for f in _findings(engine)] == [(last_seq, "head")]  # the head is still the old last

    _raw(engine, "DELETE FROM auditevent WHERE id = :id", id=last_id + 100)
    _raw(engine, "UPDATE auditevent SET chain_seq = chain_seq + 1000 WHERE chain_seq >= 2")
    _raw(engine, "UPDATE auditevent SET chain_seq = chain_seq - 999 WHERE chain_seq >= 1000")
    middle = audit[0][3]
    digest = row_hash(table="auditevent", row_id=last_id + 101, stream=AUDIT_STREAM, seq=2, prev=middle,
                      values=forged)
    _raw(engine, insert, id=last_id + 101, at=at, stream=AUDIT_STREAM, seq=2, prev=middle, hash=digest)
    found = {(f.seq, f.row_id, f.kind) for f in _findings(engine)}
    assert (3, audit[1][0], "inserted") in found  # the old second row no longer follows the row before it
    assert (3, audit[1][0], "edited") in found  # and its seq, part of its hash, was moved

    _raw(engine, "DELETE FROM auditevent WHERE id = :id", id=last_id + 101)
    _raw(engine, "UPDATE auditevent SET chain_seq = chain_seq + 999 WHERE chain_seq >= 3")
    _raw(engine, "UPDATE auditevent SET chain_seq = chain_seq - 1000 WHERE chain_seq >= 1000")
    assert _findings(engine) == []  # put back as it was: clean again
    _raw(engine, "INSERT INTO auditevent (id, action, object_type, object_id, before_summary, after_summary, at) "
                 "VALUES (:id, 'falso', '', '', '', '', :at)", id=last_id + 102, at=at)
    assert [(f.row_id, f.kind) for f in _findings(engine)] == [(last_id + 102, "unchained")]


def test_a_truncated_tail_is_caught_by_the_stored_daily_anchor(engine: Engine, session: Session,
                                                               process: Process) -> None:
    assert process.id is not None
    make_account(session, name="Admin", email="admin@opl.mx", role=Role.OPL_ADMIN, opl_id=process.opl_id)
    _supports(session, process, 3)
    send_daily(session=session, process_id=process.id, day=date(2026, 11, 1), links=LINKS, now=utcnow())
    session.commit()
    report = session.get(DailyReport, (process.id, date(2026, 11, 1)))
    assert report is not None
    stream = support_stream(process.id)
    anchor = json.loads(report.anchor)
    assert anchor[stream]["seq"] == 3 and set(anchor) == {AUDIT_STREAM, stream}
    body = session.exec(select(OutboxMessage.body)).one()
    assert f"{stream}: registro 3, huella {anchor[stream]['hash']}" in body  # readers keep it outside
    _supports(session, process, 2)  # the history goes on: the anchor stays a link of the chain
    assert _findings(engine) == []

    links = _links(engine, "supportevent", stream)
    _raw(engine, "DELETE FROM supportevent WHERE chain_stream = :s AND chain_seq >= 3", s=stream)
    _raw(engine, "UPDATE chainhead SET seq = 2, head_hash = :h WHERE stream = :s", h=links[1][3], s=stream)
    found = _findings(engine)
    assert [(f.stream, f.seq, f.kind) for f in found] == [(stream, 3, "anchor")]
    assert "daily report of process" in str(found[0])


def test_concurrent_transitions_make_one_linear_chain(engine: Engine, app_engine: Engine, session: Session,
                                                      process: Process) -> None:
    """Two threads with their own sessions move supports of one process at once, each its own aspirant's (so no
    counter row orders them: only the heads do): no deadlock, no two rows on one head, one chain with no fork (on
    PostgreSQL the head's row lock orders them; SQLite has one writer at a time)."""
    placed = [[support.id or 0 for support in _supports(session, process, 20)] for _aspirant in range(2)]
    barrier, errors = threading.Barrier(2), []

    def work(ids: list[int]) -> None:
        try:
            barrier.wait()
            for support_id in ids:
                with session_scope(app_engine) as db:
                    support = db.get(Support, support_id)
                    assert support is not None
                    record_transition(session=db, support=support, to_status=SupportStatus.VERIFYING,
                                      situacion=SituacionRegistral.SIN_VERIFICAR, reason="prueba",
                                      actor_account_id=None, now=utcnow())
                    record_audit(db, action="prueba", object_type="support", object_id=support_id)
        except Exception as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(ids,)) for ids in placed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    events = _links(engine, "supportevent", support_stream(process.id or 0))
    assert [seq for _id, seq, _p, _h in events] == list(range(1, 81))
    assert all(events[i][2] == events[i - 1][3] for i in range(1, len(events)))
    assert _findings(engine) == []


def test_the_compulsa_set_based_events_are_chained(engine: Engine, session: Session, process: Process) -> None:
    assert process.id is not None
    people = [citizen() for _ in range(3)]
    opl = session.get(Opl, process.opl_id)
    assert opl is not None
    make_roll(session, opl=opl, citizens=people)
    aspirant = make_aspirant(session, process=process)
    for person in [*people, citizen()]:  # the last one is not on the roll
        place_support(session, aspirant_id=aspirant.id or 0, process_id=process.id, cic=person.cic)
    session.commit()
    result = verify_process(session=session, process_id=process.id, now=utcnow())
    session.commit()
    assert result.changed == 4
    assert session.exec(select(SupportEvent).where(col(SupportEvent.chain_seq).is_(None))).all() == []
    events = _links(engine, "supportevent", support_stream(process.id))
    assert [seq for _id, seq, _p, _h in events] == list(range(1, 9))  # 4 received + 4 from the compulsa
    assert _findings(engine) == []
    _raw(engine, "UPDATE supportevent SET reason = 'otra' WHERE id = :id", id=events[-1][0])
    assert [(f.seq, f.kind) for f in _findings(engine, [support_stream(process.id)])] == [(8, "edited")]


def test_the_migration_chains_the_rows_written_before_it(tmp_path: Path) -> None:
    fresh = make_engine(f"sqlite:///{tmp_path}/old.db")
    config = migrate.alembic_config(fresh)
    with fresh.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
    for n in range(3):
        _raw(fresh, "INSERT INTO auditevent (action, object_type, object_id, before_summary, after_summary, at) "
                    "VALUES (:a, '', '', '', '', :at)", a=f"antes-{n}", at=utcnow())
    with fresh.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    assert [seq for _id, seq, _p, _h in _links(fresh, "auditevent", AUDIT_STREAM)] == [1, 2, 3]
    assert _findings(fresh) == []
    fresh.dispose()


def test_rows_added_after_the_orm_rows_are_chained_in_the_same_commit(engine: Engine, session: Session,
                                                                      process: Process) -> None:
    """Rows added straight to the session (not through record_transition) are found at commit too."""
    [support] = _supports(session, process, 1)
    session.expunge_all()  # the support is no longer in the identity map: the commit has to look it up
    session.add(SupportEvent(support_id=support.id or 0, from_status=SupportStatus.RECEIVED,
                             to_status=SupportStatus.RECEIVED, situacion_registral=SituacionRegistral.SIN_VERIFICAR,
                             reason="nota"))
    session.add(AuditEvent(action="nota"))
    session.commit()
    assert session.exec(select(SupportEvent).where(col(SupportEvent.chain_seq).is_(None))).all() == []
    assert _findings(engine) == []
