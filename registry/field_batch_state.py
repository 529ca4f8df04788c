"""What a field batch's write (registry/field.py) holds while its items are written: each item ready to write
(`Ready`), the look-ups made once for all of them, and where the batch's collections stood before an item
(`Marks`), to forget what it added when it stores nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from core.audit import DEFERRED_ROWS
from registry.field_batch import FieldCapture
from registry.field_checks import Prepared
from registry.images import KNOWN_IMAGES, CleanImage, ImageStore, StoredImage
from registry.intake.credential import Credential
from registry.models import Aspirant, Auxiliary, Process
from registry.reports.counters import DEFERRED_MOVES
from registry.review.flags import BATCH_FLAGS, BatchFlags, look_up_flags
from registry.states import ImageKind
from registry.supports import KnownSupports, aspirant_with_process, known_supports

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ready:
    """An item past every check, its back read and its photos cleaned: what its write needs."""

    item: FieldCapture
    prepared: Prepared
    credential: Credential
    images: Mapping[ImageKind, CleanImage]
    repeated: bool  # its key came earlier in this batch: stored there, it is a replay


def aspirant_of(session: Session, aspirant_id: int) -> tuple[Aspirant | None, Process | None]:
    """From the session when a batch holds them (`hold_teams`), else both in one query."""
    aspirant = session.identity_map.get(session.identity_key(Aspirant, aspirant_id))
    if isinstance(aspirant, Aspirant):
        return aspirant, session.get(Process, aspirant.process_id)
    return aspirant_with_process(session, aspirant_id)


def look_up_batch_flags(session: Session, ready: Iterable[Ready]) -> BatchFlags:
    """The intake flags' look-ups for all the batch's supports (registry.review.flags.look_up_flags); a back
    photo not stored yet has no support read from it."""
    known = session.info[KNOWN_IMAGES]
    backs = [known[key].id for one in ready if (back := one.images.get(ImageKind.BACK)) is not None
             and (key := (back.sha256, back.kind)) in known]
    return look_up_flags(session=session, backs=[back for back in backs if back is not None],
                         qr_texts=[one.credential.data.qr_text for one in ready
                                   if one.credential.data.qr_text and one.credential.data.cic],
                         captures=[(one.prepared.auxiliary_id, one.item.captured_at) for one in ready])


def hold_teams(session: Session, ready: Iterable[Ready]) -> list[object]:
    """The batch's aspirants, processes and auxiliaries, loaded once; while referenced, every item's gets of
    them (record_capture, submit_support's checks) come from the session instead of the database."""
    held: list[object] = []
    for aspirant_id in sorted({one.item.aspirant_id for one in ready}):
        held.extend(aspirant_with_process(session, aspirant_id))
    auxiliary_ids = sorted({one.prepared.auxiliary_id for one in ready})
    auxiliaries = session.exec(select(Auxiliary).where(col(Auxiliary.id).in_(auxiliary_ids))).all()
    return [*held, *auxiliaries]


def known_supports_of(session: Session, ready: Iterable[Ready]) -> dict[int, KnownSupports]:
    """Per aspirant, the supports already standing for the batch's credentials in its process: one query per
    process instead of one per item (the aspirants are held: `hold_teams`)."""
    by_process: dict[int, list[Ready]] = {}
    for one in ready:
        _aspirant, process = aspirant_of(session, one.item.aspirant_id)
        if process is not None and process.id is not None:
            by_process.setdefault(process.id, []).append(one)
    known: dict[int, KnownSupports] = {}
    for process_id, items in by_process.items():
        found = known_supports(session=session, process_id=process_id,
                               credentials=[(one.credential.data.cic, one.credential.data.clave_elector)
                                            for one in items])
        known |= {one.item.aspirant_id: found for one in items}
    return known


@dataclass(frozen=True)
class Marks:
    """Where the batch's collections stood before an item, to forget what the item added if it stores nothing."""

    lists: tuple[tuple[list[object], int], ...]
    images: dict[object, object]
    images_before: frozenset[object]
    flushes: int

    @classmethod
    def of(cls, session: Session) -> Marks:
        flags = session.info.get(BATCH_FLAGS)
        lists = [session.info.get(DEFERRED_ROWS, []), session.info.get(DEFERRED_MOVES, []),
                 flags.added if flags is not None else []]
        images = session.info.get(KNOWN_IMAGES, {})
        return cls(tuple((rows, len(rows)) for rows in lists), images, frozenset(images),
                   session.info.get(FLUSHES, 0))

    def new_images(self) -> list[StoredImage]:
        """The images stored since the mark (by the item: rows that its rollback takes away)."""
        return [row for key, row in self.images.items() if key not in self.images_before
                and isinstance(row, StoredImage)]

    def roll_back(self) -> None:
        for rows, mark in self.lists:
            del rows[mark:]
        for key in set(self.images) - self.images_before:
            del self.images[key]


def forget_photos(store: ImageStore, rows: Iterable[StoredImage]) -> None:
    """Remove the files of image rows rolled back before any commit (no row names them: nothing else could)."""
    for row in rows:
        try:
            store.delete(row.storage_key)
        except Exception:  # an orphan file is harmless; failing the batch for it is not
            log.warning("photo of a rolled-back capture not removed from the store")


def count_flush(session: Session, *_args: object) -> None:
    session.info[FLUSHES] = session.info.get(FLUSHES, 0) + 1


FLUSHES = "registro_field_flushes"  # session.info: flushes so far, to know whether an item wrote anything
HELD = "registro_field_held"  # session.info: rows kept referenced, so the identity map keeps them
