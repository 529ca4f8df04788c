"""The evidence behind a support (the credential's photos, the live photo, the signature, the paper form), and
who may see it: a reviewer or admin of the OPL that runs the support's process, or the aspirant who owns the
support. Everybody else, and any image that is not part of the support, gets nothing (the caller answers 404, so
a guessed id says nothing about whether it exists)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlmodel import Session, select

from registry.images import ImageStore, viewable
from registry.models import CredentialReading, PaperForm, Process, StoredImage, Support
from registry.states import ImageKind


@dataclass(frozen=True)
class Evidence:
    content_type: str
    data: bytes


def evidence_images(*, session: Session, support: Support) -> dict[ImageKind, int]:
    """The stored image ids of a support, by kind (only the kinds it has)."""
    reading = session.get(CredentialReading, support.reading_id)
    paper = session.exec(select(PaperForm).where(PaperForm.support_id == support.id)).first()
    found = {
        ImageKind.BACK: reading.back_image_id if reading else None,
        ImageKind.FRONT: reading.front_image_id if reading else None,
        ImageKind.LIVE_PHOTO: support.live_photo_id,
        ImageKind.SIGNATURE: support.signature_image_id,
        ImageKind.PAPER_FORM: paper.form_image_id if paper else None,
    }
    return {kind: image_id for kind, image_id in found.items() if image_id is not None}


def support_in_opls(*, session: Session, support_id: int, opl_ids: Collection[int]) -> Support | None:
    """The support when its process belongs to one of these OPLs (a reviewer's scope), else None."""
    support = session.get(Support, support_id)
    process = session.get(Process, support.process_id) if support else None
    return support if process is not None and process.opl_id in opl_ids else None


def support_of_aspirants(*, session: Session, support_id: int, aspirant_ids: Collection[int]) -> Support | None:
    support = session.get(Support, support_id)
    return support if support is not None and support.aspirant_id in aspirant_ids else None


def read_evidence(*, session: Session, store: ImageStore, support: Support | None,
                  kind: ImageKind) -> Evidence | None:
    """The image of `kind` of a support already checked against the viewer's scope (None: nothing to show)."""
    if support is None:
        return None
    image_id = evidence_images(session=session, support=support).get(kind)
    image = session.get(StoredImage, image_id) if image_id is not None else None
    if image is None:
        return None
    content_type, data = viewable(image.content_type, store.get(image.storage_key))
    return Evidence(content_type=content_type, data=data)
