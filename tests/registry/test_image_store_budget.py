"""A capture's images stored at once (registry.images.store_images): one look-up and one insert for all of them,
counted with an SQLAlchemy event (never timed), and each upload still stored once."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from registry.images import clean_image, open_image_store, store_image, store_images
from registry.models import StoredImage
from registry.states import ImageKind
from tests.factories.photos import plain_photo, signature_png
from tests.factories.sql import statements

STORED_IMAGE = re.compile(r"\bstoredimage\b", re.IGNORECASE)
LIMITS = {"max_bytes": 15_000_000, "max_pixels": 50_000_000}


def test_a_captures_four_images_take_one_look_up_and_one_insert(engine: Engine, session: Session,
                                                                 tmp_path: Path) -> None:
    store = open_image_store(tmp_path / "images", image_key="", secret_key="s" * 40)
    uploads = {ImageKind.BACK: plain_photo(1), ImageKind.FRONT: plain_photo(2), ImageKind.LIVE_PHOTO: plain_photo(3),
               ImageKind.SIGNATURE: signature_png()}
    images = {kind: clean_image(data, kind=kind, **LIMITS) for kind, data in uploads.items()}
    with statements(engine, STORED_IMAGE) as seen:
        rows = store_images(session=session, store=store, images=images)
    # Was a look-up and an insert per image: 8. SQLite's RETURNING does not promise the rows' order, so SQLAlchemy
    # inserts one row at a time there; PostgreSQL (production) takes them in one INSERT.
    assert len(seen) == (2 if engine.dialect.name == "postgresql" else 1 + len(images)), "\n".join(seen)
    assert {kind: row.content_type for kind, row in rows.items()}[ImageKind.SIGNATURE] == "image/png"
    assert {kind: store.get(row.storage_key) for kind, row in rows.items()} == {
        kind: image.jpeg for kind, image in images.items()}
    with statements(engine, STORED_IMAGE) as seen:
        again = store_images(session=session, store=store, images=images)
    assert len(seen) == 1 and {k: r.id for k, r in again.items()} == {k: r.id for k, r in rows.items()}
    session.commit()
    assert session.exec(select(func.count()).select_from(StoredImage)).one() == 4


def test_an_upload_stored_one_by_one_is_found_not_stored_again(session: Session, tmp_path: Path) -> None:
    store = open_image_store(tmp_path / "images", image_key="", secret_key="s" * 40)
    front = clean_image(plain_photo(7), kind=ImageKind.FRONT, **LIMITS)
    first = store_image(session=session, store=store, image=front)
    live = clean_image(plain_photo(7), kind=ImageKind.LIVE_PHOTO, **LIMITS)  # the same bytes as another kind
    rows = store_images(session=session, store=store, images={ImageKind.FRONT: front, ImageKind.LIVE_PHOTO: live})
    assert rows[ImageKind.FRONT].id == first.id and rows[ImageKind.LIVE_PHOTO].id != first.id
    assert store_images(session=session, store=store, images={}) == {}
