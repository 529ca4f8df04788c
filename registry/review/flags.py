"""What sends a support matched to the roll to the mesa de control instead of counting it straight away.

Each flag is found when the support is received (in the intake's transaction, by indexed look-ups) or later when
something happens to it (the citizen disowns it, its credential is claimed). The compulsa reads only whether a
support has a flag: a flagged support that matches the roll waits in review, an unflagged one counts.

Paper and bulk supports are typed by the OPL's own staff from the signed form, so typing them is not the manual
capture this flag is about (an auxiliary typing identifiers instead of letting the pipeline read them)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import not_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.sealing import blind_match
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
    found: list[tuple[ReviewFlag, str]] = []
    if support.manual_capture and support.channel not in TYPED_BY_THE_OPL:
        found.append((ReviewFlag.MANUAL_CAPTURE, "identificadores tecleados"))
    if support.device_time_suspect:
        found.append((ReviewFlag.DEVICE_TIME, f"hora del dispositivo {support.captured_at:%Y-%m-%d %H:%M} UTC"))
    if _image_reused(session, support, reading):
        found.append((ReviewFlag.IMAGE_REUSED, "imagen idéntica en otro apoyo"))
    if _qr_seen_with_other_cic(session, reading):
        found.append((ReviewFlag.QR_OTHER_CIC, "mismo QR, otro CIC"))
    pace = _sustained_pace(session, support, process)
    if pace is not None:
        found.append((ReviewFlag.CAPTURE_RATE, pace))
    if not found and _drawn_for_sample(process, draw):
        found.append((ReviewFlag.SAMPLE, f"muestra del {process.review_sample_percent} %"))
    # The support is new in this transaction, so nobody else can have flagged it: no look-up, no savepoint.
    session.add_all(SupportFlag(support_id=support.id, flag=flag, detail=detail[:300], at=now)
                    for flag, detail in found)
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


def _sustained_pace(session: Session, support: Support, process: Process) -> str | None:
    """The auxiliary's last SUSTAINED_CAPTURES captures (device time) came faster than one per interval."""
    if support.auxiliary_id is None:
        return None
    times = list(session.exec(
        select(Support.captured_at).where(Support.auxiliary_id == support.auxiliary_id,
                                          Support.captured_at <= support.captured_at)
        .order_by(col(Support.captured_at).desc()).limit(SUSTAINED_CAPTURES)))
    if len(times) < SUSTAINED_CAPTURES:
        return None
    span = times[0] - times[-1]
    if span >= timedelta(seconds=process.capture_interval_seconds * (SUSTAINED_CAPTURES - 1)):
        return None
    return f"{SUSTAINED_CAPTURES} capturas en {int(span.total_seconds())} s"


def _drawn_for_sample(process: Process, draw: random.Random | None) -> bool:
    if process.review_sample_percent <= 0:
        return False
    chooser = draw or random.SystemRandom()
    return chooser.random() * 100 < process.review_sample_percent
