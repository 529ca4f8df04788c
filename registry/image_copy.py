"""Moving a deployment's images from the local disk to an S3-compatible bucket while it keeps running: every
stored image is copied under the same key, as the very ciphertext the disk holds (both backends encrypt alike, so
no row changes and nothing is decrypted on the way), then read back and decrypted from the bucket to prove it
arrived whole. Run it, switch REGISTRO_IMAGE_STORE to s3 and restart, then run it again for the images written
in between: an image already in the bucket is skipped, so every run is safe to repeat."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from registry.images import ImageNotFound, LocalImageStore
from registry.models import StoredImage
from registry.s3_images import S3ImageStore

BATCH = 500  # rows read at a time: millions of images never sit in memory at once


@dataclass
class CopySummary:
    copied: int = 0
    already_there: int = 0
    missing: list[int] = field(default_factory=list)  # StoredImage ids whose file is gone from the disk


def copy_next_batch(*, session: Session, source: LocalImageStore, target: S3ImageStore, after: int,
                    summary: CopySummary) -> int | None:
    """Copy the objects of the next BATCH StoredImage rows with ids above `after` and add them to `summary`; the
    last id done, or None when there are no more. One short transaction per batch, so a copy of millions of
    images never holds a snapshot open for hours. Raises ImageStoreUnavailable when either store cannot be used:
    what was copied stays, and the next run goes on from there."""
    rows = _next_rows(session, after)
    for image_id, storage_key in rows:
        _copy_one(image_id, storage_key, source, target, summary)
    return rows[-1][0] if rows else None


def _next_rows(session: Session, after: int) -> list[tuple[int, str]]:
    rows = session.exec(select(StoredImage.id, StoredImage.storage_key).where(col(StoredImage.id) > after)
                        .order_by(col(StoredImage.id)).limit(BATCH)).all()
    return [(image_id, key) for image_id, key in rows if image_id is not None]


def _copy_one(image_id: int, storage_key: str, source: LocalImageStore, target: S3ImageStore,
              summary: CopySummary) -> None:
    if target.holds(storage_key):
        summary.already_there += 1
        return
    try:
        sealed = source.sealed(storage_key)
    except ImageNotFound:
        summary.missing.append(image_id)
        return
    target.put_sealed(storage_key, sealed)
    target.get(storage_key)  # decrypts, so a truncated or altered object fails here (InvalidToken), not later
    summary.copied += 1
