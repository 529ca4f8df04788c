"""Retention: once a process's keeping period has ended, its personal data goes, its figures stay.

No period is fixed by the sources we hold (docs/privacy.md): it is `REGISTRO_RETENTION_DAYS` after the process's
end. The purge erases the personal columns of the process's supports, credential readings, paper forms and
activation codes and deletes their images from the store, while every support row, its status, situación and
place, its events, the report counters and the audit rows stay as they were: the figures of the closed process
can still be shown and checked, and nobody in them can be identified. It refuses while an objection (garantía de
audiencia) is still open, and running it again finds nothing left to erase.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, func, select

from core.audit import record_audit
from registry.images import ImageNotFound, ImageStore
from registry.models import (
    ActivationCode,
    CredentialReading,
    Objection,
    PaperForm,
    Process,
    StoredImage,
    Support,
)
from registry.states import OPEN_OBJECTIONS

PURGED = "retention_purge"


class PurgeRefusal(StrEnum):
    NOT_FOUND = "not_found"
    PERIOD_NOT_OVER = "period_not_over"
    OBJECTIONS_OPEN = "objections_open"


class PurgeRefused(Exception):
    def __init__(self, reason: PurgeRefusal, *, until: datetime | None = None) -> None:
        super().__init__(reason.value)
        self.reason, self.until = reason, until


@dataclass(frozen=True)
class PurgeReport:
    supports: int  # supports whose personal data was (or would be) erased
    readings: int
    paper_forms: int
    codes: int
    images: int
    dry_run: bool

    @property
    def nothing_left(self) -> bool:
        return not (self.supports or self.readings or self.paper_forms or self.codes or self.images)


def purge_process(*, session: Session, store: ImageStore, process_id: int, now: datetime, retention_days: int,
                  dry_run: bool = False, actor_account_id: int | None = None) -> PurgeReport:
    """Erase a closed process's personal data (see the module's docstring). Raises PurgeRefused."""
    process = session.get(Process, process_id)
    if process is None:
        raise PurgeRefused(PurgeRefusal.NOT_FOUND)
    until = process.ends_at + timedelta(days=retention_days)
    if now < until:
        raise PurgeRefused(PurgeRefusal.PERIOD_NOT_OVER, until=until)
    if _open_objections(session, process_id):
        raise PurgeRefused(PurgeRefusal.OBJECTIONS_OPEN)
    targets = _Targets(session, process_id)
    report = targets.report(dry_run)
    if dry_run or report.nothing_left:
        return report
    images = targets.images()
    targets.erase()
    _delete_images(session, store, images)
    record_audit(session, action=PURGED, actor_account_id=actor_account_id, object_type="process",
                 object_id=process_id, after=f"supports={report.supports} readings={report.readings} "
                 f"paper_forms={report.paper_forms} codes={report.codes} images={len(images)}")
    return PurgeReport(report.supports, report.readings, report.paper_forms, report.codes, len(images), False)


def _open_objections(session: Session, process_id: int) -> int:
    return session.exec(select(func.count()).select_from(Objection).join(
        Support, col(Support.id) == col(Objection.support_id)).where(
        col(Support.process_id) == process_id, col(Objection.state).in_(OPEN_OBJECTIONS))).one()


class _Targets:
    """The process's rows that still hold personal data."""

    def __init__(self, session: Session, process_id: int) -> None:
        self.session = session
        self.support_ids = select(Support.id).where(Support.process_id == process_id)
        self.reading_ids = select(Support.reading_id).where(Support.process_id == process_id)
        self.supports = (col(Support.process_id) == process_id) & or_(
            col(Support.cic_bidx).is_not(None), col(Support.clave_elector_bidx).is_not(None),
            col(Support.citizen_key).is_not(None), col(Support.live_photo_id).is_not(None),
            col(Support.signature_image_id).is_not(None))
        self.readings = col(CredentialReading.id).in_(self.reading_ids) & or_(
            *(col(column).is_not(None) for column in (
                CredentialReading.cic_bidx, CredentialReading.identificador_bidx, CredentialReading.ocr_bidx,
                CredentialReading.clave_elector_bidx, CredentialReading.qr_text_bidx,
                CredentialReading.back_image_id, CredentialReading.front_image_id)))
        # Sealed names cannot be compared in SQL: a form still to erase is one whose support still is (a paper
        # support always carries a clave de elector), so the forms go before their supports.
        self.forms = col(PaperForm.support_id).in_(select(Support.id).where(self.supports))
        self.codes = col(ActivationCode.reading_id).in_(self.reading_ids) & (col(ActivationCode.cic_bidx) != "")

    def _count(self, model: type, condition: object) -> int:
        return int(self.session.exec(select(func.count()).select_from(model).where(condition)).one())  # type: ignore[arg-type]

    def report(self, dry_run: bool) -> PurgeReport:
        return PurgeReport(
            supports=self._count(Support, self.supports), readings=self._count(CredentialReading, self.readings),
            paper_forms=self._count(PaperForm, self.forms), codes=self._count(ActivationCode, self.codes),
            images=len(self.images()), dry_run=dry_run)

    def images(self) -> dict[int, str]:
        """The images only this process's rows point at (the store keeps the same bytes once), by id."""
        session = self.session
        ids: set[int] = set()
        for first, second in session.exec(select(Support.live_photo_id, Support.signature_image_id)
                                          .where(col(Support.id).in_(self.support_ids))).all():
            ids |= {first, second} - {None}  # type: ignore[arg-type]
        for first, second in session.exec(select(CredentialReading.back_image_id, CredentialReading.front_image_id)
                                          .where(col(CredentialReading.id).in_(self.reading_ids))).all():
            ids |= {first, second} - {None}  # type: ignore[arg-type]
        ids |= set(session.exec(select(PaperForm.form_image_id).where(
            col(PaperForm.support_id).in_(self.support_ids), col(PaperForm.form_image_id).is_not(None))).all()
        ) - {None}  # type: ignore[arg-type]
        if not ids:
            return {}
        shared = self._used_elsewhere(ids)
        rows = session.exec(select(StoredImage.id, StoredImage.storage_key).where(
            col(StoredImage.id).in_(ids - shared))).all()
        return {image_id: key for image_id, key in rows if image_id is not None}

    def _used_elsewhere(self, ids: set[int]) -> set[int]:
        session, found = self.session, set()
        others = ~col(Support.id).in_(self.support_ids)
        for column in (Support.live_photo_id, Support.signature_image_id):
            found |= set(session.exec(select(column).where(col(column).in_(ids), others)).all())
        for column in (CredentialReading.back_image_id, CredentialReading.front_image_id):
            found |= set(session.exec(select(column).where(
                col(column).in_(ids), ~col(CredentialReading.id).in_(self.reading_ids))).all())
        found |= set(session.exec(select(PaperForm.form_image_id).where(
            col(PaperForm.form_image_id).in_(ids), ~col(PaperForm.support_id).in_(self.support_ids))).all())
        return {image_id for image_id in found if image_id is not None}

    def erase(self) -> None:
        """Bulk updates: the ORM's blind-index hook does not run, so the indexes are cleared here too."""
        session = self.session
        # synchronize_session=False: the ORM would otherwise match sealed columns in Python; callers re-read
        execute = functools.partial(session.execute, execution_options={"synchronize_session": False})
        execute(update(PaperForm).where(self.forms).values(
            nombre="", apellido_paterno="", apellido_materno="", form_image_id=None))
        execute(update(ActivationCode).where(self.codes).values(
            cic="", qr_text="", cic_bidx="", qr_text_bidx=""))
        execute(update(CredentialReading).where(self.readings).values(
            cic=None, identificador_ciudadano=None, ocr=None, clave_elector=None, qr_text=None, cic_bidx=None,
            identificador_bidx=None, ocr_bidx=None, clave_elector_bidx=None, qr_text_bidx=None,
            back_image_id=None, front_image_id=None))
        execute(update(Support).where(self.supports).values(
            cic=None, clave_elector=None, cic_bidx=None, clave_elector_bidx=None, citizen_key=None,
            live_photo_id=None, signature_image_id=None))


def _delete_images(session: Session, store: ImageStore, images: dict[int, str]) -> None:
    """Files first, then rows, in the caller's transaction: if it fails, the rows still name the images and the
    next run deletes them (an image already gone counts as deleted)."""
    for key in images.values():
        with contextlib.suppress(ImageNotFound):
            store.delete(key)
    if images:
        session.execute(delete(StoredImage).where(col(StoredImage.id).in_(list(images))))
