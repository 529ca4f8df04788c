"""The write path's statement budgets (issue 14's throughput): the citizen's give step and a field batch item send
a bounded number of SQL statements, counted with an SQLAlchemy event (never timed), on SQLite and PostgreSQL
alike; and what they store is still whole: the hash chains verify, a retry stores nothing twice, and the report
counters equal a recount (the `engine` fixture checks that after every test)."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from auth.roles import Role
from core.clock import utcnow
from core.db import session_scope
from registry.audit_verify import verify_chains
from registry.citizen import SupportDraft, generate_code, give_support
from registry.field import BatchContext, process_batch
from registry.field_batch import CaptureImages, FieldCapture
from registry.images import open_image_store
from registry.intake.reading import ImageLimits, decode_back
from registry.models import ActivationCode, Aspirant, CredentialReading, Support
from registry.states import ReadingSource, SignatureMethod
from registry.supports import SupportReceipt
from tests.factories import add
from tests.factories.accounts import make_account
from tests.factories.photos import flat_back, plain_photo, signature_png
from tests.factories.processes import make_auxiliary
from tests.factories.sql import statements

SECRET = "budget-test-secret-" + "b" * 30
LIMITS = ImageLimits(max_bytes=15_000_000, max_pixels=50_000_000)
# Measured before the cut (SQLite, BEGIN included): 34 for the give step, 42 per field item, 30 for a replayed
# batch of 10. The budgets leave a statement or two of room, well under the old counts. A field batch's items are
# written in one transaction since (registry/field.py): 54 statements for a batch of 3, 18 an item; with the
# intake flags' look-ups and inserts made once for the batch (registry.review.flags.look_up_flags) and no savepoint
# unless an item fails after writing: 41 (29 on PostgreSQL).
GIVE_BUDGET = 27
FIELD_ITEM_BUDGET = 14
FIELD_BATCH_ITEMS = 3


def _citizen_with_code(session: Session, n: int) -> tuple[int, int]:
    account = make_account(session, name=f"Ciudadana {n}", email=f"ciudadana{n}@correo.mx")
    assert account.id is not None
    reading = add(session, CredentialReading(source=ReadingSource.PIPELINE, cic=f"18365771{n}",
                                             qr_text=f"http://qr.ine.mx/{n:022d}/20170915/P/003660",
                                             identificador_ciudadano="116375842"))
    assert reading.id is not None
    issued = generate_code(session=session, account_id=account.id, reading_id=reading.id, secret_key=SECRET,
                           now=utcnow(), compose=lambda code, until: ("Tu código", code)).issued
    assert issued is not None
    session.commit()
    return account.id, issued.code_id


def _give(engine: Engine, account_id: int, code_id: int, aspirant: Aspirant, key: str) -> SupportReceipt:
    assert aspirant.id is not None
    draft = SupportDraft(code_id=code_id, aspirant_id=aspirant.id,
                         signature_method=SignatureMethod.ACCESSIBLE_ALTERNATIVE)
    with session_scope(engine) as session:
        return give_support(session=session, account_id=account_id, draft=draft, idempotency_key=key,
                            acknowledged_other_office=False, now=utcnow(),
                            compose_receipt=lambda facts: ("Tu apoyo", facts.folio))


def test_the_give_step_stays_within_its_statement_budget(engine: Engine, session: Session,
                                                         aspirant: Aspirant) -> None:
    citizens = [_citizen_with_code(session, n) for n in range(2)]
    _give(engine, *citizens[0], aspirant, "clave-000000000000000001")  # the streams' heads exist from here on
    with statements(engine) as seen:
        receipt = _give(engine, *citizens[1], aspirant, "clave-000000000000000002")
    assert receipt.created and len(seen) <= GIVE_BUDGET, "\n".join(seen)
    with statements(engine) as seen:
        again = _give(engine, *citizens[1], aspirant, "clave-000000000000000002")
    assert (again.folio, again.created) == (receipt.folio, False) and len(seen) <= 5, "\n".join(seen)
    with Session(engine) as check:
        code = check.get(ActivationCode, citizens[1][1])
        assert code is not None and code.used_at is not None
        assert check.exec(select(func.count()).select_from(Support)).one() == 2
        assert list(verify_chains(session=check)) == []


def _items(aspirant_id: int, first: int) -> list[FieldCapture]:
    return [FieldCapture(index=n, client_key=f"clave-cliente-{first + n:04d}", aspirant_id=aspirant_id,
                         captured_at=utcnow() - timedelta(minutes=5),
                         images=CaptureImages(back=flat_back(first + n), front=plain_photo(100 + first + n),
                                              live_photo=plain_photo(20 + first + n), signature=signature_png()),
                         typed=None) for n in range(FIELD_BATCH_ITEMS)]


def test_a_field_item_stays_within_its_statement_budget_and_a_replayed_batch_reads_once(
        engine: Engine, session: Session, aspirant: Aspirant, tmp_path: Path) -> None:
    account = make_account(session, name="Auxiliar", role=Role.AUXILIARY, aspirant_id=aspirant.id)
    make_auxiliary(session, aspirant=aspirant, account=account)
    session.commit()
    assert account.id is not None and aspirant.id is not None
    decoded = {}
    for n in range(2 * FIELD_BATCH_ITEMS):  # decoded first: only the database's work is counted below
        back = flat_back(n)
        decoded[back] = decode_back(back, today=utcnow().date(), limits=LIMITS, budget_ms=120_000)
    context = BatchContext(engine=engine, store=open_image_store(tmp_path / "images", image_key="", secret_key=SECRET),
                           limits=LIMITS, decode=partial(decoded.__getitem__), clock=utcnow, account_id=account.id,
                           today=utcnow().date())
    process_batch(context, _items(aspirant.id, 0))  # the streams' heads exist from here on
    batch = _items(aspirant.id, FIELD_BATCH_ITEMS)
    with statements(engine) as seen:
        answers = process_batch(context, batch)
    assert [answer.status for answer in answers] == ["received"] * FIELD_BATCH_ITEMS, answers
    assert len(seen) <= FIELD_ITEM_BUDGET * FIELD_BATCH_ITEMS, "\n".join(seen)
    with statements(engine) as seen:
        again = process_batch(context, batch)
    assert [(a.folio, a.replay) for a in again] == [(a.folio, True) for a in answers]
    assert len(seen) <= 5, "\n".join(seen)  # one look-up of the whole batch, not a few statements per item
    with Session(engine) as check:
        assert check.exec(select(func.count()).select_from(Support)).one() == 2 * FIELD_BATCH_ITEMS
        assert list(verify_chains(session=check)) == []
