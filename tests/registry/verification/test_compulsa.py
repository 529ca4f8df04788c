"""The compulsa: every situación registral category and every LGIPE 385 rule, in bulk and incrementally."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from core.clock import utcnow
from core.sealing import blind_index
from registry.models import (
    Aspirant,
    Opl,
    PaperExceptionMunicipality,
    PendingVerification,
    Process,
    Support,
    SupportEvent,
    SupportFlag,
)
from registry.states import Channel, ReviewFlag, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from registry.verification.compulsa import verify_process
from tests.factories import add
from tests.factories.processes import make_aspirant, make_process
from tests.factories.roll import Citizen, citizen, make_roll, place_support

S = SituacionRegistral
T0 = utcnow() - timedelta(days=2)


@pytest.fixture
def aspirant_a(session: Session, process: Process) -> Aspirant:
    return make_aspirant(session, process=process, name="Ana Aspirante")


@pytest.fixture
def aspirant_b(session: Session, process: Process) -> Aspirant:
    return make_aspirant(session, process=process, name="Beto Aspirante")


def verify(session: Session, process: Process, ids: list[int] | None = None) -> int:
    assert process.id is not None
    result = verify_process(session=session, process_id=process.id, now=utcnow(), support_ids=ids)
    session.commit()
    session.expire_all()
    return result.changed


def support_for(session: Session, aspirant: Aspirant, person: Citizen, *, minutes: float = 0, by: str = "cic",
                channel: Channel = Channel.AUXILIARY, folio: str | None = None) -> Support:
    assert aspirant.id is not None
    keys = {"cic": {"cic": person.cic}, "clave": {"clave_elector": person.clave_elector},
            "ocr": {"ocr": person.ocr}, "idc": {"identificador": person.identificador_ciudadano}}[by]
    return place_support(session, aspirant_id=aspirant.id, process_id=aspirant.process_id, channel=channel,
                         received_at=T0 + timedelta(minutes=minutes), folio=folio, **keys)  # type: ignore[arg-type]


def decide(session: Session, support: Support, status: SupportStatus, situacion: SituacionRegistral) -> None:
    """A person's decision, as the mesa de control records one (an event, the counters)."""
    record_transition(session=session, support=support, to_status=status, situacion=situacion,
                      reason="decisión de prueba", actor_account_id=None, now=utcnow())


def state(session: Session, support: Support) -> tuple[SituacionRegistral, SupportStatus]:
    fresh = session.get(Support, support.id)
    assert fresh is not None
    return fresh.situacion_registral, fresh.status


def events(session: Session, support: Support) -> list[SupportEvent]:
    return list(session.exec(select(SupportEvent).where(SupportEvent.support_id == support.id)
                             .order_by(col(SupportEvent.id))))


@pytest.mark.parametrize("key", ["cic", "clave", "ocr", "idc"])
def test_a_citizen_on_the_lista_nominal_is_found_by_each_key_and_counts_when_nothing_flags_it(
        session: Session, process: Process, aspirant_a: Aspirant, key: str) -> None:
    person = citizen()
    in_roll(session, process, person)
    support = support_for(session, aspirant_a, person, by=key)
    verify(session, process)
    assert state(session, support) == (S.EN_LISTA_NOMINAL, SupportStatus.VALID)
    fresh = session.get(Support, support.id)
    assert fresh is not None and fresh.citizen_key == blind_index(person.clave_elector, "clave_elector")
    assert (fresh.state_code, fresh.district, fresh.municipality, fresh.seccion) == (26, 5, 30, 1001)
    assert {"cic": "CIC", "clave": "clave de elector", "ocr": "OCR", "idc": "identificador ciudadano"}[key] \
        in events(session, support)[-1].reason


def process_opl(session: Session, process: Process) -> Opl:
    opl = session.get(Opl, process.opl_id)
    assert opl is not None
    return opl


def in_roll(session: Session, process: Process, *people: Citizen) -> None:
    """A roll in force for the process's OPL with these people."""
    make_roll(session, opl=process_opl(session, process), citizens=list(people))


def test_cic_is_tried_before_the_clave(session: Session, process: Process, aspirant_a: Aspirant) -> None:
    by_cic, by_clave = citizen(), citizen()
    in_roll(session, process, by_cic, by_clave)
    assert aspirant_a.id is not None
    # A typed clave that belongs to someone else: the CIC read from the credential decides.
    support = place_support(session, aspirant_id=aspirant_a.id, process_id=process.id or 0, cic=by_cic.cic,
                            clave_elector=by_clave.clave_elector, received_at=T0)
    verify(session, process)
    fresh = session.get(Support, support.id)
    assert fresh is not None and fresh.citizen_key == blind_index(by_cic.clave_elector, "clave_elector")


@pytest.mark.parametrize(("situacion", "expected", "detail"), [
    ("padron_sin_lista", S.EN_PADRON_NO_EN_LISTA, None),
    ("baja_defuncion", S.BAJA, "defuncion"),
    ("baja_suspension_derechos", S.BAJA, "suspension_derechos"),
    ("baja_perdida_vigencia", S.BAJA, "perdida_vigencia"),
])
def test_the_rolls_situacion_decides_a_support_that_does_not_count(
        session: Session, process: Process, aspirant_a: Aspirant, situacion: str, expected: SituacionRegistral,
        detail: str | None) -> None:
    person = citizen(situacion=situacion)
    in_roll(session, process, person)
    support = support_for(session, aspirant_a, person)
    verify(session, process)
    assert state(session, support) == (expected, SupportStatus.INVALID)
    fresh = session.get(Support, support.id)
    assert fresh is not None and fresh.situacion_detail == detail
    if detail:
        assert detail in events(session, support)[-1].reason


def test_a_credential_not_in_the_roll_is_datos_no_encontrados(session: Session, process: Process,
                                                              aspirant_a: Aspirant) -> None:
    in_roll(session, process, citizen())
    support = support_for(session, aspirant_a, citizen())  # someone else: not in the roll
    verify(session, process)
    assert state(session, support) == (S.DATOS_NO_ENCONTRADOS, SupportStatus.INVALID)


def test_a_citizen_registered_outside_the_offices_territory_is_fuera_de_ambito(
        session: Session, process: Process, aspirant_a: Aspirant) -> None:
    elsewhere = citizen(state_code=25)
    in_roll(session, process, elsewhere)
    support = support_for(session, aspirant_a, elsewhere)
    verify(session, process)
    assert state(session, support) == (S.FUERA_DE_AMBITO, SupportStatus.INVALID)


def test_a_municipal_office_counts_only_its_municipality(session: Session, process: Process,
                                                         aspirant_a: Aspirant) -> None:
    from registry.states import ScopeKind
    process.scope_kind, process.scope_municipality = ScopeKind.MUNICIPALITY, 30
    session.add(process)
    inside, outside = citizen(municipality=30), citizen(municipality=18)
    in_roll(session, process, inside, outside)
    kept, out = support_for(session, aspirant_a, inside), support_for(session, aspirant_a, outside, minutes=1)
    verify(session, process)
    assert state(session, kept)[0] is S.EN_LISTA_NOMINAL
    assert state(session, out)[0] is S.FUERA_DE_AMBITO


@pytest.mark.parametrize("channel", [Channel.PAPER, Channel.BULK_IMPORT])
def test_paper_counts_only_from_a_municipality_in_the_regimen_de_excepcion(
        session: Session, process: Process, aspirant_a: Aspirant, channel: Channel) -> None:
    session.add(PaperExceptionMunicipality(process_id=process.id or 0, municipality=4))
    authorised, other = citizen(municipality=4), citizen(municipality=30)
    in_roll(session, process, authorised, other)
    on_paper = support_for(session, aspirant_a, authorised, by="clave", channel=channel)
    refused = support_for(session, aspirant_a, other, by="clave", channel=channel, minutes=1)
    by_phone = support_for(session, aspirant_a, other, minutes=2)  # the same citizen, on the app: it counts
    verify(session, process)
    assert state(session, on_paper)[0] is S.EN_LISTA_NOMINAL
    assert state(session, refused) == (S.FUERA_REGIMEN_EXCEPCION, SupportStatus.INVALID)
    assert state(session, by_phone)[0] is S.EN_LISTA_NOMINAL


def test_the_same_citizen_counts_once_for_the_same_aspirant(session: Session, process: Process,
                                                            aspirant_a: Aspirant) -> None:
    person = citizen()
    in_roll(session, process, person)
    first = support_for(session, aspirant_a, person, minutes=0)
    again = support_for(session, aspirant_a, person, minutes=5, by="clave")  # paper, or another credential
    verify(session, process)
    assert state(session, first)[0] is S.EN_LISTA_NOMINAL
    assert state(session, again) == (S.DUPLICADO_MISMO_ASPIRANTE, SupportStatus.INVALID)


def test_only_the_first_support_for_the_office_counts(session: Session, process: Process, aspirant_a: Aspirant,
                                                      aspirant_b: Aspirant) -> None:
    person = citizen()
    in_roll(session, process, person)
    later_for_a = support_for(session, aspirant_a, person, minutes=10)
    first_for_b = support_for(session, aspirant_b, person, minutes=1)
    verify(session, process)
    assert state(session, first_for_b)[0] is S.EN_LISTA_NOMINAL
    assert state(session, later_for_a) == (S.DUPLICADO_OTRO_ASPIRANTE, SupportStatus.INVALID)


def test_a_tie_on_receipt_time_is_broken_by_folio(session: Session, process: Process, aspirant_a: Aspirant,
                                                  aspirant_b: Aspirant) -> None:
    person = citizen()
    in_roll(session, process, person)
    for_b = support_for(session, aspirant_b, person, minutes=3, folio="RC-0000000001")
    for_a = support_for(session, aspirant_a, person, minutes=3, folio="RC-0000000002")
    verify(session, process)
    assert state(session, for_b)[0] is S.EN_LISTA_NOMINAL
    assert state(session, for_a)[0] is S.DUPLICADO_OTRO_ASPIRANTE


def test_a_then_b_then_a_again(session: Session, process: Process, aspirant_a: Aspirant,
                               aspirant_b: Aspirant) -> None:
    person = citizen()
    in_roll(session, process, person)
    a1 = support_for(session, aspirant_a, person, minutes=0)
    b = support_for(session, aspirant_b, person, minutes=1)
    a2 = support_for(session, aspirant_a, person, minutes=2, by="clave")
    verify(session, process)
    assert [state(session, s)[0] for s in (a1, b, a2)] == [
        S.EN_LISTA_NOMINAL, S.DUPLICADO_OTRO_ASPIRANTE, S.DUPLICADO_MISMO_ASPIRANTE]


def test_only_supports_that_would_count_compete_for_first(session: Session, process: Process,
                                                          aspirant_a: Aspirant, aspirant_b: Aspirant) -> None:
    """A first support that does not count (paper outside the exception) does not take the citizen's place."""
    person = citizen(municipality=30)
    in_roll(session, process, person)
    void_first = support_for(session, aspirant_a, person, minutes=0, by="clave", channel=Channel.PAPER)
    second = support_for(session, aspirant_b, person, minutes=5)
    verify(session, process)
    assert state(session, void_first)[0] is S.FUERA_REGIMEN_EXCEPCION
    assert state(session, second)[0] is S.EN_LISTA_NOMINAL


def test_a_support_with_an_inconsistency_is_left_to_the_mesa_de_control(
        session: Session, process: Process, aspirant_a: Aspirant, aspirant_b: Aspirant) -> None:
    person = citizen()
    in_roll(session, process, person)
    rejected = support_for(session, aspirant_a, person, minutes=0)
    decide(session, rejected, SupportStatus.INVALID, S.CON_INCONSISTENCIA)
    later = support_for(session, aspirant_b, person, minutes=5)
    verify(session, process)
    assert state(session, rejected) == (S.CON_INCONSISTENCIA, SupportStatus.INVALID)
    assert state(session, later)[0] is S.EN_LISTA_NOMINAL


def test_a_flagged_support_on_the_lista_nominal_awaits_the_mesa_de_control(
        session: Session, process: Process, aspirant_a: Aspirant) -> None:
    person, other = citizen(), citizen()
    in_roll(session, process, person, other)
    flagged, plain = support_for(session, aspirant_a, person), support_for(session, aspirant_a, other)
    assert flagged.id is not None
    add(session, SupportFlag(support_id=flagged.id, flag=ReviewFlag.MANUAL_CAPTURE, detail="tecleado"))
    verify(session, process)
    assert state(session, flagged) == (S.EN_LISTA_NOMINAL, SupportStatus.IN_REVIEW)
    assert state(session, plain) == (S.EN_LISTA_NOMINAL, SupportStatus.VALID)


def test_a_support_validated_at_the_mesa_de_control_stays_valid(session: Session, process: Process,
                                                                aspirant_a: Aspirant) -> None:
    person = citizen()
    in_roll(session, process, person)
    support = support_for(session, aspirant_a, person)
    assert support.id is not None
    add(session, SupportFlag(support_id=support.id, flag=ReviewFlag.SAMPLE, detail="muestra"))
    verify(session, process)
    assert state(session, support) == (S.EN_LISTA_NOMINAL, SupportStatus.IN_REVIEW)
    support = session.get(Support, support.id)  # type: ignore[assignment]
    decide(session, support, SupportStatus.VALID, S.EN_LISTA_NOMINAL)
    session.commit()
    assert verify(session, process) == 0
    assert state(session, support) == (S.EN_LISTA_NOMINAL, SupportStatus.VALID)


def test_a_second_run_changes_nothing_and_writes_no_event(session: Session, process: Process,
                                                          aspirant_a: Aspirant, aspirant_b: Aspirant) -> None:
    people = [citizen(), citizen(situacion="baja_defuncion"), citizen(state_code=1)]
    make_roll(session, opl=process_opl(session, process), citizens=people)
    supports = [support_for(session, aspirant, person, minutes=i)
                for i, (aspirant, person) in enumerate([(a, p) for p in people for a in (aspirant_a, aspirant_b)])]
    supports.append(support_for(session, aspirant_a, citizen(), minutes=30))
    assert verify(session, process) == len(supports)
    before = session.exec(select(SupportEvent)).all()
    stamps = {s.id: session.get(Support, s.id).updated_at for s in supports}  # type: ignore[union-attr]
    assert verify(session, process) == 0
    assert len(session.exec(select(SupportEvent)).all()) == len(before)
    assert stamps == {s.id: session.get(Support, s.id).updated_at for s in supports}  # type: ignore[union-attr]


def test_a_new_roll_moves_supports_and_each_move_has_its_event(
        session: Session, process: Process, aspirant_a: Aspirant, aspirant_b: Aspirant) -> None:
    from registry.models import RollImport
    from registry.states import RollImportState
    opl = process_opl(session, process)
    late, dead, stays = citizen(situacion="padron_sin_lista"), citizen(), citizen()
    first_roll = make_roll(session, opl=opl, citizens=[late, dead, stays])
    s_late = support_for(session, aspirant_a, late)
    s_dead_b = support_for(session, aspirant_b, dead, minutes=1)
    s_dead_a = support_for(session, aspirant_a, dead.moved(cic="999999999"), minutes=2, by="clave")
    s_stays = support_for(session, aspirant_a, stays, minutes=3)
    verify(session, process)
    assert state(session, s_dead_a)[0] is S.DUPLICADO_OTRO_ASPIRANTE
    counts_before = {s.id: len(events(session, s)) for s in (s_late, s_dead_b, s_dead_a, s_stays)}

    first_roll.state = RollImportState.SUPERSEDED
    session.add(first_roll)
    session.flush()
    make_roll(session, opl=opl, citizens=[late.moved(situacion="vigente"), dead.moved(situacion="baja_defuncion"),
                                          stays], cutoff=first_roll.cutoff_date + timedelta(days=30))
    assert verify(session, process) == 3
    assert state(session, s_late) == (S.EN_LISTA_NOMINAL, SupportStatus.VALID)
    assert state(session, s_dead_b) == (S.BAJA, SupportStatus.INVALID)
    assert state(session, s_dead_a) == (S.BAJA, SupportStatus.INVALID)
    assert len(events(session, s_stays)) == counts_before[s_stays.id]  # unchanged: no event
    for moved in (s_late, s_dead_b, s_dead_a):
        history = events(session, moved)
        assert len(history) == counts_before[moved.id] + 1
        assert history[-1].situacion_registral is state(session, moved)[0]
        assert "2026-11-30" in history[-1].reason  # the cut-off of the roll that decided it
    assert session.exec(select(RollImport)).all()


def test_without_a_roll_in_force_supports_stay_received(session: Session, process: Process,
                                                        aspirant_a: Aspirant) -> None:
    support = support_for(session, aspirant_a, citizen())
    assert verify(session, process) == 0
    assert state(session, support) == (S.SIN_VERIFICAR, SupportStatus.RECEIVED)


def test_incremental_verification_keeps_the_first_support_counting(
        session: Session, process: Process, aspirant_a: Aspirant, aspirant_b: Aspirant) -> None:
    person = citizen()
    in_roll(session, process, person)
    first = support_for(session, aspirant_a, person, minutes=0)
    verify(session, process)
    newcomer = support_for(session, aspirant_b, person, minutes=60)
    untouched = support_for(session, aspirant_b, citizen(), minutes=61)  # not in this run
    assert newcomer.id is not None
    assert verify(session, process, ids=[newcomer.id]) == 1
    assert state(session, newcomer) == (S.DUPLICADO_OTRO_ASPIRANTE, SupportStatus.INVALID)
    assert state(session, first) == (S.EN_LISTA_NOMINAL, SupportStatus.VALID)
    assert state(session, untouched) == (S.SIN_VERIFICAR, SupportStatus.RECEIVED)


def test_a_late_verified_earlier_support_takes_first_place_incrementally(
        session: Session, process: Process, aspirant_a: Aspirant, aspirant_b: Aspirant) -> None:
    """An older support verified after a newer one (e.g. it waited for a fix): the order is receipt time, so the
    incremental pass demotes the newer one, with its event."""
    person = citizen()
    in_roll(session, process, person)
    older = support_for(session, aspirant_a, person, minutes=0)
    newer = support_for(session, aspirant_b, person, minutes=30)
    assert newer.id is not None and older.id is not None
    verify(session, process, ids=[newer.id])
    assert state(session, newer)[0] is S.EN_LISTA_NOMINAL
    verify(session, process, ids=[older.id])
    assert state(session, older)[0] is S.EN_LISTA_NOMINAL
    assert state(session, newer)[0] is S.DUPLICADO_OTRO_ASPIRANTE
    assert events(session, newer)[-1].situacion_registral is S.DUPLICADO_OTRO_ASPIRANTE


def test_supports_of_another_process_are_not_touched(session: Session, process: Process,
                                                     aspirant_a: Aspirant) -> None:
    person = citizen()
    opl = process_opl(session, process)
    make_roll(session, opl=opl, citizens=[person])
    other = make_aspirant(session, process=make_process(session, opl=opl, name="Presidencia municipal"))
    elsewhere = support_for(session, other, person)
    mine = support_for(session, aspirant_a, person, minutes=1)
    verify(session, process)
    assert state(session, mine)[0] is S.EN_LISTA_NOMINAL  # another office: not a duplicate
    assert state(session, elsewhere) == (S.SIN_VERIFICAR, SupportStatus.RECEIVED)


def test_a_compulsa_stopped_halfway_leaves_nothing_and_the_next_run_works(
        session: Session, process: Process, aspirant_a: Aspirant) -> None:
    """The first run on a connection makes its work tables; if it stops (cancelled), they roll back with it."""
    person = citizen()
    in_roll(session, process, person)
    support = support_for(session, aspirant_a, person)
    session.commit()

    def cancel(done: int, _total: int, _what: str) -> None:
        if done == 2:
            raise RuntimeError("cancelled")

    assert process.id is not None
    session.connection().info.clear()  # as a new connection: no work tables yet
    with pytest.raises(RuntimeError):
        verify_process(session=session, process_id=process.id, now=utcnow(), step=cancel)
    session.rollback()
    assert state(session, support) == (S.SIN_VERIFICAR, SupportStatus.RECEIVED)
    verify(session, process)
    assert state(session, support)[0] is S.EN_LISTA_NOMINAL


@pytest.mark.parametrize("bulk", [True, False])
def test_a_support_a_person_already_decided_leaves_the_verification_queue(
        session: Session, process: Process, aspirant_a: Aspirant, bulk: bool) -> None:
    """A paper form with an inconsistency is decided before the compulsa sees it: left as it is, and not queued
    for ever (the worker would pick it up again on every pass)."""
    person = citizen()
    in_roll(session, process, person)
    decided = support_for(session, aspirant_a, person, by="clave", channel=Channel.PAPER)
    decide(session, decided, SupportStatus.INVALID, S.CON_INCONSISTENCIA)
    assert decided.id is not None
    verify(session, process, None if bulk else [decided.id])
    assert state(session, decided) == (S.CON_INCONSISTENCIA, SupportStatus.INVALID)
    assert session.get(PendingVerification, decided.id) is None


def test_a_compulsa_rolled_back_leaves_the_next_one_working(session: Session, process: Process,
                                                            aspirant_a: Aspirant) -> None:
    person = citizen()
    in_roll(session, process, person)
    support = support_for(session, aspirant_a, person)
    session.commit()
    assert process.id is not None
    verify_process(session=session, process_id=process.id, now=utcnow())
    session.rollback()  # e.g. the request that ran it failed afterwards
    verify(session, process)
    assert state(session, support) == (S.EN_LISTA_NOMINAL, SupportStatus.VALID)



def test_the_compulsa_stores_event_times_as_the_orm_does(session: Session, process: Process,
                                                         aspirant_a: Aspirant) -> None:
    """UTC whatever time zone `now` has, and on SQLite in the ORM's one text format (events sort by time)."""
    person = citizen()
    in_roll(session, process, person)
    support = support_for(session, aspirant_a, person)
    session.commit()
    assert process.id is not None
    local_now = utcnow().replace(microsecond=0).astimezone(ZoneInfo("America/Mexico_City"))
    verify_process(session=session, process_id=process.id, now=local_now)
    session.commit()
    session.expire_all()
    _first, last = session.exec(select(SupportEvent).where(SupportEvent.support_id == support.id)
                               .order_by(col(SupportEvent.id))).all()
    assert last.at == local_now
    raw_first, raw_last = session.execute(text("SELECT at FROM supportevent WHERE support_id = :id ORDER BY id"),
                                          {"id": support.id}).scalars().all()
    assert type(raw_first) is type(raw_last)
    if isinstance(raw_first, str):  # SQLite: the same text layout, so comparing them as text compares times
        assert len(raw_first) == len(raw_last)
