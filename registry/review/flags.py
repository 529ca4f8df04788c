"""What sends a support matched to the roll to the mesa de control instead of counting it straight away.

Each flag is found when the support is received (in the intake's transaction, by indexed look-ups) or later when
something happens to it (the citizen disowns it, its credential is claimed). The compulsa reads only whether a
support has a flag: a flagged support that matches the roll waits in review, an unflagged one counts.

Paper and bulk supports are typed by the OPL's own staff from the signed form, so typing them is not the manual
capture this flag is about (an auxiliary typing identifiers instead of letting the pipeline read them)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import literal, not_, union_all
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.audit import add_or_defer
from core.sealing import blind_in, blind_index, blind_match, current_sealer
from registry.models import CredentialReading, Process, Support, SupportFlag
from registry.states import Channel, ReviewFlag

# "Sustained": this many captures in a row, each faster than the process's interval, before a pace is flagged;
# one quick pair (two people queuing together) is ordinary.
SUSTAINED_CAPTURES = 10
# Typed by the OPL's staff from a signed form: not the auxiliary's manual capture (see the module's docstring).
TYPED_BY_THE_OPL = frozenset({Channel.PAPER, Channel.BULK_IMPORT})
# How each flag is explained to the reviewer is the web layer's wording (web.routes.review.flag_explanations).


def add_flag(*, session: Session, support_id: int, flag: ReviewFlag, detail: str, now: datetime) -> bool:
    """Record `flag` on the support once; returns False when it was already there."""
    if session.get(SupportFlag, (support_id, flag)) is not None:
        return False
    try:
        # A twin request (a double-tapped report) may insert the same flag at once: only this insert is undone.
        with session.begin_nested():
            session.add(SupportFlag(support_id=support_id, flag=flag, detail=detail[:300], at=now))
    except IntegrityError:
        return False
    return True


def flags_of(*, session: Session, support_ids: list[int]) -> dict[int, list[SupportFlag]]:
    rows = session.exec(select(SupportFlag).where(col(SupportFlag.support_id).in_(support_ids))
                        .order_by(col(SupportFlag.at))).all() if support_ids else []
    grouped: dict[int, list[SupportFlag]] = {}
    for row in rows:
        grouped.setdefault(row.support_id, []).append(row)
    return grouped


def flag_on_intake(*, session: Session, support: Support, reading: CredentialReading, process: Process,
                   now: datetime, draw: random.Random | None = None) -> list[ReviewFlag]:
    """Every flag a new support earns from what is already stored; returns those added."""
    assert support.id is not None
    batch = session.info.get(BATCH_FLAGS)
    found: list[tuple[ReviewFlag, str]] = []
    if support.manual_capture and support.channel not in TYPED_BY_THE_OPL:
        found.append((ReviewFlag.MANUAL_CAPTURE, "identificadores tecleados"))
    if support.device_time_suspect:
        found.append((ReviewFlag.DEVICE_TIME, f"hora del dispositivo {support.captured_at:%Y-%m-%d %H:%M} UTC"))
    if batch.image_reused(reading) if batch is not None else _image_reused(session, support, reading):
        found.append((ReviewFlag.IMAGE_REUSED, "imagen idéntica en otro apoyo"))
    if batch.qr_seen_with_other_cic(reading) if batch is not None else _qr_seen_with_other_cic(session, reading):
        found.append((ReviewFlag.QR_OTHER_CIC, "mismo QR, otro CIC"))
    pace = _pace_of(_times(session, support, batch), process)
    if batch is not None:
        batch.stored(support, reading)
    if pace is not None:
        found.append((ReviewFlag.CAPTURE_RATE, pace))
    if not found and _drawn_for_sample(process, draw):
        found.append((ReviewFlag.SAMPLE, f"muestra del {process.review_sample_percent} %"))
    # The support is new in this transaction, so nobody else can have flagged it: no look-up, no savepoint. Nothing
    # reads the flags back before the commit: a batch adds them with its other rows (core.audit.add_or_defer).
    for flag, detail in found:
        add_or_defer(session, SupportFlag(support_id=support.id, flag=flag, detail=detail[:300], at=now))
    return [flag for flag, _ in found]


def _image_reused(session: Session, support: Support, reading: CredentialReading) -> bool:
    """Another support's credential back is this one's photo. The image store keeps identical bytes once, so the
    same photo is the same image row. Only supports count: a citizen who sent the same photo twice for activation
    codes has two readings of it and has reused nothing. (The back is what the credential is read from; the front
    is not indexed and proves nothing by itself.)"""
    if reading.back_image_id is None:
        return False
    other = (select(Support.id).join(CredentialReading, col(CredentialReading.id) == Support.reading_id)
             .where(CredentialReading.back_image_id == reading.back_image_id, Support.id != support.id).limit(1))
    return session.exec(other).first() is not None


def _qr_seen_with_other_cic(session: Session, reading: CredentialReading) -> bool:
    if not reading.qr_text or not reading.cic:
        return False
    other = select(CredentialReading.id).where(  # sealed columns: compared by their blind indexes
        blind_match(col(CredentialReading.qr_text_bidx), reading.qr_text, "qr"),
        not_(blind_match(col(CredentialReading.cic_bidx), reading.cic, "cic")),
        col(CredentialReading.cic_bidx).is_not(None)).limit(1)
    return session.exec(other).first() is not None


def _times(session: Session, support: Support, batch: BatchFlags | None) -> list[datetime]:
    """The device times of the auxiliary's last SUSTAINED_CAPTURES captures up to this one's (itself included)."""
    if support.auxiliary_id is None:
        return []
    if batch is not None:
        return batch.times(support)
    return list(session.exec(
        select(Support.captured_at).where(Support.auxiliary_id == support.auxiliary_id,
                                          Support.captured_at <= support.captured_at)
        .order_by(col(Support.captured_at).desc()).limit(SUSTAINED_CAPTURES)))


def _pace_of(times: list[datetime], process: Process) -> str | None:
    """Flagged when the captures `times` (latest first) came faster than one per interval."""
    if len(times) < SUSTAINED_CAPTURES:
        return None
    span = times[0] - times[-1]
    if span >= timedelta(seconds=process.capture_interval_seconds * (SUSTAINED_CAPTURES - 1)):
        return None
    return f"{SUSTAINED_CAPTURES} capturas en {int(span.total_seconds())} s"


# session.info: a batch's look-ups for flag_on_intake, made once for all its supports (`look_up_flags`).
BATCH_FLAGS = "registro_batch_flags"


@dataclass
class BatchFlags:
    """What flag_on_intake's three look-ups would find for a batch's new supports, read before the batch's writes
    in one query each (`look_up_flags`), completed with the batch's own supports as they are stored (`stored`,
    append-only: a caller undoing an item's writes cuts `added` back to where it stood)."""

    reused_backs: set[int]  # back photos some stored support was read from
    qr_cics: set[tuple[str, str]]  # (QR blind index, CIC blind index) of stored readings with both
    paces: dict[tuple[int, datetime], list[datetime]]  # (auxiliary, device time): its latest captures up to then
    # The batch's supports stored so far, with their reading's (QR, CIC) blind indexes when it has both.
    added: list[tuple[Support, CredentialReading, tuple[str, str] | None]] = field(default_factory=list)

    def image_reused(self, reading: CredentialReading) -> bool:
        back = reading.back_image_id
        return back is not None and (back in self.reused_backs
                                     or any(other.back_image_id == back for _, other, _qr in self.added))

    def qr_seen_with_other_cic(self, reading: CredentialReading) -> bool:
        if not reading.qr_text or not reading.cic:
            return False
        sealer = current_sealer()
        qrs, cics = set(sealer.blind_indexes(reading.qr_text, "qr")), set(sealer.blind_indexes(reading.cic, "cic"))
        seen = self.qr_cics | {qr_cic for _, _reading, qr_cic in self.added if qr_cic is not None}
        return any(qr in qrs and cic not in cics for qr, cic in seen)

    def times(self, support: Support) -> list[datetime]:
        assert support.auxiliary_id is not None
        mine = [support.captured_at, *(other.captured_at for other, _reading, _qr in self.added
                                       if other.auxiliary_id == support.auxiliary_id
                                       and other.captured_at <= support.captured_at)]
        earlier = self.paces.get((support.auxiliary_id, support.captured_at), [])
        return sorted([*earlier, *mine], reverse=True)[:SUSTAINED_CAPTURES]

    def stored(self, support: Support, reading: CredentialReading) -> None:
        self.added.append((support, reading, _qr_cic(reading) if reading.qr_text and reading.cic else None))


def _qr_cic(reading: CredentialReading) -> tuple[str, str]:
    return blind_index(reading.qr_text, "qr") or "", blind_index(reading.cic, "cic") or ""


def look_up_flags(*, session: Session, backs: Iterable[int], qr_texts: Iterable[str],
                  captures: Iterable[tuple[int, datetime]]) -> BatchFlags:
    """flag_on_intake's look-ups for a batch, before its writes: the supports read from its back photos already
    stored, the readings of its QRs, and each (auxiliary, device time)'s latest captures: a query each."""
    backs, qr_texts, captures = sorted(set(backs)), sorted(set(qr_texts)), sorted(set(captures))
    reused = set(session.exec(
        select(CredentialReading.back_image_id).join(Support, col(Support.reading_id) == CredentialReading.id)
        .where(col(CredentialReading.back_image_id).in_(backs)).distinct())) if backs else set()
    qr_cics = {(qr or "", cic or "") for qr, cic in session.exec(
        select(col(CredentialReading.qr_text_bidx), col(CredentialReading.cic_bidx))
        .where(blind_in(col(CredentialReading.qr_text_bidx), qr_texts, "qr"),
               col(CredentialReading.cic_bidx).is_not(None)).distinct())} if qr_texts else set()
    return BatchFlags({back for back in reused if back is not None}, qr_cics, _paces(session, captures))


def _paces(session: Session, captures: list[tuple[int, datetime]]) -> dict[tuple[int, datetime], list[datetime]]:
    """`_times`'s query for each capture, as one statement (a UNION ALL of them, each tagged with its place)."""
    parts = [select(literal(n).label("n"), col(Support.captured_at).label("at"))
             .where(Support.auxiliary_id == auxiliary, Support.captured_at <= at)
             .order_by(col(Support.captured_at).desc()).limit(SUSTAINED_CAPTURES).subquery()
             for n, (auxiliary, at) in enumerate(captures)]
    paces: dict[tuple[int, datetime], list[datetime]] = {capture: [] for capture in captures}
    if not parts:
        return paces
    query = union_all(*(select(part.c.n, part.c.at) for part in parts))
    for n, at in session.execute(query):
        paces[captures[n]].append(at)
    return paces


def _drawn_for_sample(process: Process, draw: random.Random | None) -> bool:
    if process.review_sample_percent <= 0:
        return False
    chooser = draw or random.SystemRandom()
    return chooser.random() * 100 < process.review_sample_percent
