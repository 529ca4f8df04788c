"""A field batch's intake flags from one look-up per kind for all its supports (registry.review.flags
`look_up_flags`, set in `BATCH_FLAGS` by registry/field.py): the same flags as the per-support queries, against
what was stored before the batch and what the batch itself stored earlier, without those queries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.clock import utcnow
from registry.images import ImageStore, clean_image, open_image_store, store_image
from registry.models import Aspirant, Process
from registry.review.flags import BATCH_FLAGS, SUSTAINED_CAPTURES, look_up_flags
from registry.states import ImageKind, ReviewFlag
from tests.factories.photos import plain_photo
from tests.factories.processes import make_aspirant, make_auxiliary
from tests.factories.sql import statements
from tests.registry.review.test_flags import credential, flags, submit

F = ReviewFlag
QR, QR_NEW = ("http://qr.ine.mx/000000000000000000000031/20200101/P/000031",
              "http://qr.ine.mx/000000000000000000000032/20200101/P/000032")


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return open_image_store(tmp_path / "images", image_key="", secret_key="s" * 40)


def _image(session: Session, store: ImageStore, seed: int) -> int:
    image = clean_image(plain_photo(seed),
                        kind=ImageKind.BACK, max_bytes=15_000_000, max_pixels=50_000_000)
    row = store_image(session=session, store=store, image=image)
    assert row.id is not None
    return row.id


def test_a_batchs_flags_are_those_of_the_per_support_queries_without_them(
        engine: Engine, session: Session, store: ImageStore, process: Process, aspirant: Aspirant) -> None:
    other = make_aspirant(session, process=process, name="Otra Aspirante")
    auxiliary = make_auxiliary(session, aspirant=aspirant)
    start = utcnow() - timedelta(hours=3)
    old_back, new_back = _image(session, store, 161), _image(session, store, 162)
    submit(session, aspirant, data=credential(back_image_id=old_back))
    submit(session, aspirant, data=credential(cic="311111111", qr_text=QR))
    before = SUSTAINED_CAPTURES - 2
    for n in range(before):  # one every 5 seconds: the batch's second capture is the tenth
        submit(session, aspirant, auxiliary=auxiliary, captured_at=start + timedelta(seconds=5 * n))
    session.commit()
    assert auxiliary.id is not None
    times = [start + timedelta(seconds=5 * n) for n in range(before, before + 3)]
    session.info[BATCH_FLAGS] = look_up_flags(session=session, backs=[old_back, new_back], qr_texts=[QR, QR_NEW],
                                              captures=[(auxiliary.id, at) for at in times])
    with statements(engine) as seen:
        reused = submit(session, other, data=credential(back_image_id=old_back))
        new_first = submit(session, aspirant, data=credential(back_image_id=new_back))
        new_again = submit(session, other, data=credential(back_image_id=new_back))
        qr_same = submit(session, other, data=credential(cic="311111111", qr_text=QR))
        qr_other = submit(session, other, data=credential(cic="322222222", qr_text=QR))
        qr_new = submit(session, aspirant, data=credential(cic="333333333", qr_text=QR_NEW))
        qr_new_other = submit(session, other, data=credential(cic="344444444", qr_text=QR_NEW))
        paced = [submit(session, aspirant, auxiliary=auxiliary, captured_at=at) for at in times]
    assert F.IMAGE_REUSED in flags(session, reused) & flags(session, new_again)
    assert F.IMAGE_REUSED not in flags(session, new_first)
    assert F.QR_OTHER_CIC in flags(session, qr_other) & flags(session, qr_new_other)
    assert F.QR_OTHER_CIC not in flags(session, qr_same) | flags(session, qr_new)
    assert [F.CAPTURE_RATE in flags(session, support) for support in paced] == [False, True, True]
    looked_up = [sql for sql in seen if "qr_text_bidx =" in sql or "back_image_id =" in sql
                 or "ORDER BY support.captured_at DESC" in sql]
    assert looked_up == [], looked_up
