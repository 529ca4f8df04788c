"""A field batch's items written in one transaction, a savepoint each (registry/field.py `_write_ready`): an item
refused or failing mid-batch leaves none of its rows (support, pending verification, event, audit row, counter
move) and never spoils its neighbours; the same credential twice in a batch is caught from the batch's one
look-up; a twin of a key committed while the batch decoded is a replay; a batch whose commit fails is written
again item by item. The `engine` fixture checks the report counters against a recount after each test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

import registry.field
from capture.pipeline import read_back
from core.audit import AuditEvent
from core.clock import utcnow
from registry.audit_verify import verify_chains
from registry.field import process_batch, record_capture
from registry.intake.credential import credential_from_reading
from registry.intake.photos import clean_photos
from registry.intake.reading import BackDecode
from registry.models import PendingVerification, StoredImage, Support, SupportEvent
from tests.factories.photos import flat_back
from tests.factories.sql import statements
from tests.registry.test_field import LIMITS, TODAY, Team, _capture, _context, _failing_on


def _rows(engine: Engine) -> tuple[int, int, int, int]:
    """Supports, pending verifications, support events and support_received audit rows."""
    with Session(engine) as check:
        assert list(verify_chains(session=check)) == []
        return (check.exec(select(func.count()).select_from(Support)).one(),
                check.exec(select(func.count()).select_from(PendingVerification)).one(),
                check.exec(select(func.count()).select_from(SupportEvent)).one(),
                check.exec(select(func.count()).select_from(AuditEvent)
                           .where(AuditEvent.action == "support_received")).one())


def test_the_same_credential_twice_in_one_batch_is_refused_the_second_time(engine: Engine, session: Session,
                                                                         tmp_path: Path) -> None:
    team = Team(session)
    items = [_capture(0, team.aspirant.id), _capture(1, team.aspirant.id, seed=0), _capture(2, team.aspirant.id)]
    answers = process_batch(_context(engine, tmp_path, team.account.id), items)
    assert [(a.status, a.code) for a in answers] == [("received", ""), ("refused", "already_supported"),
                                                     ("received", "")]
    assert _rows(engine) == (2, 2, 2, 2)


def test_an_item_failing_after_its_writes_leaves_none_of_its_rows(engine: Engine, session: Session,
                                                                  tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    team = Team(session)
    write, _calls = _failing_on(2)
    monkeypatch.setattr(registry.field, "record_capture", write)
    answers = process_batch(_context(engine, tmp_path, team.account.id),
                            [_capture(n, team.aspirant.id) for n in range(4)])
    assert [(a.status, a.retryable) for a in answers] == [("received", False), ("error", True),
                                                          ("received", False), ("received", False)]
    assert _rows(engine) == (3, 3, 3, 3)
    # Written first without savepoints, then again with one each: the first attempt's photos are not left behind.
    with Session(engine) as check:
        rows = {image.storage_key for image in check.exec(select(StoredImage))}
    assert {path.stem for path in (tmp_path / "images").rglob("*.enc")} == rows


def test_a_batch_whose_items_all_pass_is_written_without_savepoints(engine: Engine, session: Session,
                                                                     tmp_path: Path) -> None:
    team = Team(session)
    context = _context(engine, tmp_path, team.account.id)
    with statements(engine) as seen:
        answers = process_batch(context, [_capture(0, team.aspirant.id), _capture(1, team.aspirant.id, seed=0),
                                          _capture(2, team.aspirant.id)])
    assert [(a.status, a.code) for a in answers] == [("received", ""), ("refused", "already_supported"),
                                                     ("received", "")]
    assert not [sql for sql in seen if "SAVEPOINT" in sql.upper()]
    assert _rows(engine) == (2, 2, 2, 2)


def test_a_batch_whose_commit_fails_is_written_item_by_item(engine: Engine, session: Session, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    team = Team(session)

    def fail(**_kwargs: Any) -> None:
        raise ConnectionError("database went away before the commit")

    monkeypatch.setattr(registry.field, "count_transitions", fail)  # only the batch's own transaction calls it
    answers = process_batch(_context(engine, tmp_path, team.account.id),
                            [_capture(n, team.aspirant.id) for n in range(3)])
    assert [(a.status, a.replay) for a in answers] == [("received", False)] * 3
    assert len({a.folio for a in answers}) == 3 and _rows(engine) == (3, 3, 3, 3)


def test_a_twin_of_a_key_committed_while_the_batch_decoded_is_a_replay(engine: Engine, session: Session,
                                                                     tmp_path: Path) -> None:
    team = Team(session)
    context = _context(engine, tmp_path, team.account.id)
    twin = _capture(0, team.aspirant.id, seed=5)  # the same key, another photo: not the batch's duplicate
    folios: list[str] = []

    def decode_after_the_twin(data: bytes) -> BackDecode:
        if not folios:  # the phone's earlier attempt commits after the batch's look-ups, before its write
            credential = credential_from_reading(read_back(flat_back(5), today=TODAY), None, today=TODAY)
            with Session(engine) as racing:
                receipt = record_capture(session=racing, store=context.store,
                                         images=clean_photos(twin.images.present(), LIMITS), capture=twin,
                                         credential=credential, auxiliary_id=team.auxiliary.id,
                                         actor_account_id=team.account.id, now=utcnow())
                racing.commit()
            folios.append(receipt.folio)
        return context.decode(data)

    racing_context = _context(engine, tmp_path, team.account.id, decode=decode_after_the_twin)
    answers = process_batch(racing_context, [_capture(0, team.aspirant.id), _capture(1, team.aspirant.id)])
    assert (answers[0].status, answers[0].folio, answers[0].replay) == ("received", folios[0], True)
    assert answers[1].status == "received" and not answers[1].replay
    assert _rows(engine) == (2, 2, 2, 2)
