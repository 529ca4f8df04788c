from datetime import date

import pytest
from sqlmodel import Session, select

from core.clock import utcnow
from registry.demo import load_demo_data
from registry.models import Aspirant, CredentialReading, Support, SupportEvent
from registry.states import Channel, ReadingSource, SituacionRegistral, SupportStatus

# These tests write a support and its event by hand, on purpose: the counters' check after them does not apply.
pytestmark = pytest.mark.writes_supports_directly


def _support_with_first_event(session: Session) -> SupportEvent:
    load_demo_data(session=session, today=date(2026, 11, 24))
    aspirant = session.exec(select(Aspirant)).first()
    assert aspirant is not None and aspirant.id is not None
    reading = CredentialReading(source=ReadingSource.MANUAL, cic="123456789")
    session.add(reading)
    session.flush()
    assert reading.id is not None
    support = Support(folio="F-1", idempotency_key="k-1", process_id=aspirant.process_id,
                      aspirant_id=aspirant.id, channel=Channel.CITIZEN, reading_id=reading.id,
                      captured_at=utcnow())
    session.add(support)
    session.flush()
    assert support.id is not None
    event = SupportEvent(support_id=support.id, to_status=SupportStatus.RECEIVED,
                         situacion_registral=SituacionRegistral.SIN_VERIFICAR, reason="recibido")
    session.add(event)
    session.commit()
    return event


def test_support_events_cannot_be_rewritten(session: Session) -> None:
    event = _support_with_first_event(session)
    event.reason = "rewritten history"
    with pytest.raises(RuntimeError, match="append-only"):
        session.commit()


def test_support_events_cannot_be_deleted(session: Session) -> None:
    event = _support_with_first_event(session)
    session.delete(event)
    with pytest.raises(RuntimeError, match="append-only"):
        session.commit()


def test_idempotency_key_is_unique(session: Session) -> None:
    from sqlalchemy.exc import IntegrityError

    event = _support_with_first_event(session)
    first = session.get(Support, event.support_id)
    assert first is not None
    session.add(Support(folio="F-2", idempotency_key="k-1", process_id=first.process_id,
                        aspirant_id=first.aspirant_id, channel=Channel.CITIZEN, reading_id=first.reading_id,
                        captured_at=utcnow()))
    with pytest.raises(IntegrityError):
        session.commit()
