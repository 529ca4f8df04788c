"""A support's photos on their way to the image store, the same for every channel: each upload is cleaned once
(a plain phone JPEG kept as sent minus its metadata, anything else decoded and re-encoded: registry/images.py),
outside any transaction (work that must never hold the database's locks), then stored in the caller's
transaction; the back photo arrives already cleaned by the credential reader."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlmodel import Session

from capture.intake import IntakeError
from registry.images import CleanImage, ImageStore, clean_image, store_images
from registry.intake.reading import ImageLimits
from registry.intake.refusals import Refusal, Refused
from registry.states import ImageKind


def clean_photo(data: bytes, *, kind: ImageKind, limits: ImageLimits) -> CleanImage:
    """Raises Refused (BAD_IMAGE, naming the photo and why) for an unusable upload."""
    try:
        return clean_image(data, kind=kind, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels)
    except IntakeError as bad:
        raise Refused(Refusal.BAD_IMAGE, photo=kind, reason=bad.reason) from bad


def clean_photos(photos: Sequence[tuple[ImageKind, bytes]], limits: ImageLimits,
                 back: CleanImage | None = None) -> dict[ImageKind, CleanImage]:
    """Every photo cleaned, except `back` when the credential reader already did it (never decoded twice).
    Raises Refused naming the first unusable photo."""
    cleaned: dict[ImageKind, CleanImage] = {ImageKind.BACK: back} if back is not None else {}
    for kind, data in photos:
        if kind not in cleaned:
            cleaned[kind] = clean_photo(data, kind=kind, limits=limits)
    return cleaned


def store_photos(*, session: Session, store: ImageStore,
                 images: Mapping[ImageKind, CleanImage]) -> dict[ImageKind, int]:
    """Each photo stored once (the same upload twice gives the same row); their ids by kind."""
    ids: dict[ImageKind, int] = {}
    for kind, row in store_images(session=session, store=store, images=images).items():
        assert row.id is not None
        ids[kind] = row.id
    return ids
