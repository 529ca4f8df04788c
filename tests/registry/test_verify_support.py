"""«Verifica tu apoyo»: both identifiers must belong to the same support or the same citizen of the roll; the
answer holds nothing but aspirant, process, day and whether it counts; the report's token opens only its own
support, only for a while, and reporting again changes nothing."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, func, select

from core.audit import AuditEvent
from core.clock import utcnow
from core.sealing import blind_index
from registry.models import Aspirant, Opl, Process, Support, SupportFlag
from registry.states import Channel, ReviewFlag, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from registry.verification.compulsa import verify_process
from registry.verify_support import (
    TOKEN_LIFETIME,
    FoundSupport,
    InvalidToken,
    Standing,
    disown_token,
    disown_verified,
    find_supports,
    open_disown_token,
)
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import Citizen, citizen, make_roll, place_support

SECRET = "test-secret-" + "y" * 40


def _aspirant(session: Session, name: str = "Rosa Aspirante") -> Aspirant:
    aspirant = make_aspirant(session, process=make_process(session, opl=make_opl(session)), name=name)
    assert aspirant.id is not None
    return aspirant


def _place(session: Session, aspirant: Aspirant, **identifiers: object) -> Support:
    assert aspirant.id is not None
    return place_support(session, aspirant_id=aspirant.id, process_id=aspirant.process_id,
                         **identifiers)  # type: ignore[arg-type]


def _found(session: Session, person: Citizen, *, cic: str | None = None) -> list[int]:
    return [found.support_id for found in find_supports(session=session, clave=person.clave_elector,
                                                        cic=cic or person.cic)]


def _opl_of(session: Session, aspirant: Aspirant) -> Opl:
    process = session.get(Process, aspirant.process_id)
    assert process is not None
    opl = session.get(Opl, process.opl_id)
    assert opl is not None
    return opl


def test_a_support_carrying_both_identifiers_is_found_only_with_both(session: Session) -> None:
    person, stranger = citizen(), citizen()
    support = _place(session, _aspirant(session), clave_elector=person.clave_elector, cic=person.cic,
                     channel=Channel.PAPER)
    assert _found(session, person) == [support.id]
    assert _found(session, person, cic=stranger.cic) == []  # the clave alone finds nothing
    assert find_supports(session=session, clave=stranger.clave_elector, cic=person.cic) == []  # nor the CIC


def test_a_cic_only_support_is_found_through_the_citizen_the_compulsa_matched(session: Session) -> None:
    person = citizen()
    aspirant = _aspirant(session)
    support = _place(session, aspirant, cic=person.cic)  # the phone channels read the CIC, not the clave
    assert _found(session, person) == []  # nothing ties this CIC to that clave yet
    make_roll(session, opl=_opl_of(session, aspirant), citizens=[person])
    assert _found(session, person) == [support.id]  # the roll in force lists the clave with this CIC
    verify_process(session=session, process_id=aspirant.process_id, now=utcnow())
    session.commit()  # as every caller of the compulsa does (its work table lives with the transaction)
    session.refresh(support)
    assert support.citizen_key == blind_index(person.clave_elector, "clave_elector")
    assert _found(session, person) == [support.id]
    assert _found(session, person, cic=citizen().cic) == []


def test_the_rolls_holder_finds_supports_given_with_an_older_credential_or_the_clave_alone(
        session: Session) -> None:
    person = citizen()
    aspirant = _aspirant(session)
    # An earlier credential of the same person: another CIC, the same identificador ciudadano.
    old = _place(session, aspirant, cic="999000111", identificador=person.identificador_ciudadano)
    paper = _place(session, _aspirant(session, "Otro Aspirante"), clave_elector=person.clave_elector,
                   ocr=person.ocr, channel=Channel.PAPER)
    make_roll(session, opl=_opl_of(session, aspirant), citizens=[person])
    verify_process(session=session, process_id=aspirant.process_id, now=utcnow())
    session.commit()  # as every caller of the compulsa does (its work table lives with the transaction)
    assert sorted(_found(session, person)) == sorted([old.id, paper.id])
    # The old credential's holder finds only what was given with it (its CIC, tied to the clave by the compulsa).
    assert _found(session, person, cic="999000111") == [old.id]
    # A wrong CIC finds nothing, although the clave is in the roll and has supports.
    assert _found(session, person, cic="123456789") == []


def test_the_answer_holds_only_aspirant_process_day_and_whether_it_counts(session: Session) -> None:
    person = citizen()
    aspirant = _aspirant(session, "Rosa Aspirante")
    support = _place(session, aspirant, clave_elector=person.clave_elector, cic=person.cic)
    record_transition(session=session, support=support, to_status=SupportStatus.VALID,
                      situacion=SituacionRegistral.EN_LISTA_NOMINAL, reason="prueba", actor_account_id=None,
                      now=utcnow())
    [found] = find_supports(session=session, clave=person.clave_elector, cic=person.cic)
    assert {field.name for field in dataclasses.fields(FoundSupport)} == {
        "support_id", "aspirant_name", "process_name", "office", "received_day", "standing", "disowned"}
    assert (found.aspirant_name, found.process_name, found.standing) == ("Rosa Aspirante", "Gubernatura 2027",
                                                                          Standing.COUNTS)
    assert found.received_day == support.received_at.astimezone(ZoneInfo("America/Mexico_City")).date()


def test_a_report_flags_the_support_and_sends_a_counting_one_back_to_review(session: Session) -> None:
    person = citizen()
    support = _place(session, _aspirant(session), clave_elector=person.clave_elector, cic=person.cic)
    record_transition(session=session, support=support, to_status=SupportStatus.VALID,
                      situacion=SituacionRegistral.EN_LISTA_NOMINAL, reason="prueba", actor_account_id=None,
                      now=utcnow())
    assert support.id is not None
    now = utcnow()
    token = disown_token(secret=SECRET, support_id=support.id, now=now)
    assert disown_verified(session=session, secret=SECRET, token=token, now=now).reported_now
    session.commit()
    session.refresh(support)
    assert support.status is SupportStatus.IN_REVIEW
    assert session.get(SupportFlag, (support.id, ReviewFlag.DISOWNED)) is not None
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "support_disowned")).one()
    assert audit.actor_account_id is None and "via=verifica" in audit.after_summary
    assert person.clave_elector not in audit.after_summary + audit.before_summary
    [found] = find_supports(session=session, clave=person.clave_elector, cic=person.cic)
    assert found.disowned and found.standing is Standing.PENDING
    # The same token again (a replay) changes nothing and writes no second audit row.
    assert not disown_verified(session=session, secret=SECRET, token=token, now=now).reported_now
    assert session.exec(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "support_disowned")).one() == 1


def test_a_forged_tampered_or_stale_token_is_refused(session: Session) -> None:
    now = utcnow()
    token = disown_token(secret=SECRET, support_id=7, now=now)
    assert open_disown_token(secret=SECRET, token=token, now=now + TOKEN_LIFETIME) == 7
    with pytest.raises(InvalidToken):
        open_disown_token(secret=SECRET, token=token, now=now + TOKEN_LIFETIME + timedelta(seconds=1))
    with pytest.raises(InvalidToken):
        open_disown_token(secret="another-secret-" + "z" * 40, token=token, now=now)
    forged = disown_token(secret="another-secret-" + "z" * 40, support_id=7, now=now)
    for bad in (forged, token[:-2] + "xx", "", "7", "RC-T000000001"):
        with pytest.raises(InvalidToken):
            open_disown_token(secret=SECRET, token=bad, now=now)
    with pytest.raises(InvalidToken):  # genuine, but for no support
        disown_verified(session=session, secret=SECRET, token=token, now=now)
