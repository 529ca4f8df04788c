from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from core.clock import utcnow
from registry.intake.credential import CredentialData
from registry.intake.refusals import Refusal, Refused
from registry.models import Support, SupportEvent
from registry.states import Channel, InvitationState, ReadingSource, SituacionRegistral, SupportStatus
from registry.supports import (
    SupportSubmission,
    find_conflict,
    submit_support,
)
from tests.factories.accounts import make_account
from tests.factories.processes import make_aspirant, make_auxiliary, make_process

CREDENTIAL = CredentialData(source=ReadingSource.PIPELINE, cic="123456789", identificador_ciudadano="987654321",
                            qr_text="http://qr.ine.mx/000000000000000000000001/20200101/P/000001")


def _submission(aspirant_id: int, key: str = "key-1", **changes: object) -> SupportSubmission:
    fields: dict[str, object] = {"idempotency_key": key, "aspirant_id": aspirant_id, "channel": Channel.CITIZEN,
                                 "credential": CREDENTIAL, "captured_at": utcnow()}
    return SupportSubmission(**{**fields, **changes})  # type: ignore[arg-type]


def _submit(session: Session, submission: SupportSubmission):  # type: ignore[no-untyped-def]
    return submit_support(session=session, submission=submission, actor_account_id=None, now=utcnow())


def test_a_support_gets_a_folio_and_its_first_event(session: Session) -> None:
    aspirant = make_aspirant(session)
    receipt = _submit(session, _submission(aspirant.id))
    session.commit()
    assert receipt.created and receipt.folio.startswith("RC-") and receipt.counts_for_aspirant
    events = session.exec(select(SupportEvent).where(SupportEvent.support_id == receipt.support_id)).all()
    assert [(e.from_status, e.to_status) for e in events] == [(None, SupportStatus.RECEIVED)]


def test_retrying_the_same_key_returns_the_same_receipt_and_stores_one_support(session: Session) -> None:
    aspirant = make_aspirant(session)
    first = _submit(session, _submission(aspirant.id))
    again = _submit(session, _submission(aspirant.id))
    session.commit()
    assert (again.folio, again.created) == (first.folio, False)
    assert len(session.exec(select(Support)).all()) == 1


def test_a_key_reused_for_other_content_is_refused(session: Session) -> None:
    aspirant, other = make_aspirant(session), make_aspirant(session, name="Otra Aspirante")
    _submit(session, _submission(aspirant.id))
    with pytest.raises(Refused) as refused:
        _submit(session, _submission(other.id))
    assert refused.value.code is Refusal.KEY_REUSED


def test_the_same_aspirant_twice_is_refused(session: Session) -> None:
    aspirant = make_aspirant(session)
    _submit(session, _submission(aspirant.id, key="a"))
    with pytest.raises(Refused) as refused:
        _submit(session, _submission(aspirant.id, key="b"))
    assert refused.value.code is Refusal.ALREADY_SUPPORTED


def test_a_second_aspirant_for_the_same_office_is_accepted_but_does_not_count(session: Session) -> None:
    process = make_process(session)
    first, second = make_aspirant(session, process=process), make_aspirant(session, process=process, name="Otro X")
    _submit(session, _submission(first.id, key="a"))
    assert find_conflict(session=session, aspirant_id=second.id, process_id=process.id, cic=CREDENTIAL.cic,
                         clave_elector=None) == (None, first.id)
    receipt = _submit(session, _submission(second.id, key="b"))
    stored = session.get(Support, receipt.support_id)
    assert not receipt.counts_for_aspirant
    assert stored is not None and stored.situacion_registral is SituacionRegistral.DUPLICADO_OTRO_ASPIRANTE


def test_citizens_cannot_support_outside_the_collection_window(session: Session) -> None:
    closed = make_process(session, opens=utcnow() - timedelta(days=30), closes=utcnow() - timedelta(days=1))
    aspirant = make_aspirant(session, process=closed)
    with pytest.raises(Refused) as refused:
        _submit(session, _submission(aspirant.id))
    assert refused.value.code is Refusal.PROCESS_CLOSED


def test_field_captures_with_a_device_time_in_the_future_are_flagged(session: Session) -> None:
    aspirant = make_aspirant(session)
    auxiliary = make_auxiliary(session, aspirant=aspirant, account=make_account(session))
    receipt = _submit(session, _submission(aspirant.id, channel=Channel.AUXILIARY, auxiliary_id=auxiliary.id,
                                           captured_at=utcnow() + timedelta(days=3)))
    stored = session.get(Support, receipt.support_id)
    assert stored is not None and stored.device_time_suspect


@pytest.mark.parametrize("state", [InvitationState.SUSPENDED, InvitationState.INVITED])
def test_inactive_auxiliaries_cannot_capture(session: Session, state: InvitationState) -> None:
    aspirant = make_aspirant(session)
    auxiliary = make_auxiliary(session, aspirant=aspirant, state=state)
    with pytest.raises(Refused) as refused:
        _submit(session, _submission(aspirant.id, channel=Channel.AUXILIARY, auxiliary_id=auxiliary.id))
    assert refused.value.code is Refusal.AUXILIARY_INACTIVE


def test_another_aspirants_auxiliary_cannot_capture_for_this_one(session: Session) -> None:
    aspirant, other = make_aspirant(session), make_aspirant(session, name="Otra Persona")
    auxiliary = make_auxiliary(session, aspirant=other)
    with pytest.raises(Refused) as refused:
        _submit(session, _submission(aspirant.id, channel=Channel.AUXILIARY, auxiliary_id=auxiliary.id))
    assert refused.value.code is Refusal.AUXILIARY_NOT_OF_ASPIRANT
    assert session.exec(select(col(Support.id))).all() == []
