"""Two requests racing with the same idempotency key (a double tap, a retry while the first is in flight) store
one support, and both get its folio."""

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from core.clock import utcnow
from core.db import make_engine, session_scope
from registry.intake.credential import CredentialData
from registry.models import Support
from registry.states import Channel, ReadingSource
from registry.supports import SupportReceipt, SupportSubmission, submit_support
from tests.factories.processes import make_aspirant

RACERS = 4


def test_racing_submissions_with_one_key_store_one_support(engine: Engine, database_url: str) -> None:
    app_engine = make_engine(database_url)  # configured as the app's: on SQLite, writers queue at BEGIN
    with session_scope(engine) as session:
        aspirant_id = make_aspirant(session).id
    assert aspirant_id is not None
    submission = SupportSubmission(
        idempotency_key="same-key", aspirant_id=aspirant_id, channel=Channel.CITIZEN, captured_at=utcnow(),
        credential=CredentialData(source=ReadingSource.PIPELINE, cic="111222333"),
    )
    start = threading.Barrier(RACERS)

    def submit(_: int) -> SupportReceipt:
        start.wait()
        with session_scope(app_engine) as session:
            return submit_support(session=session, submission=submission, actor_account_id=None, now=utcnow())

    with ThreadPoolExecutor(RACERS) as pool:
        receipts = list(pool.map(submit, range(RACERS)))
    assert len({receipt.folio for receipt in receipts}) == 1
    assert sum(receipt.created for receipt in receipts) == 1
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Support)).one() == 1
    app_engine.dispose()
