"""What sends a support to the mesa de control: each flag found at intake, through the one intake every channel
uses (registry.supports.submit_support), and what the compulsa then does with flagged and unflagged supports."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from auth.roles import Role
from core.clock import utcnow
from registry.field import record_capture, window_flag
from registry.field_batch import CaptureImages, FieldCapture
from registry.field_window import WindowRules
from registry.images import ImageStore, clean_image, open_image_store, store_image
from registry.intake.credential import Credential, CredentialData, store_reading
from registry.models import Aspirant, Auxiliary, Opl, Process, StoredImage, Support, SupportFlag
from registry.review.flags import SUSTAINED_CAPTURES, add_flag, flags_of
from registry.states import Channel, ImageKind, ReadingSource, ReviewFlag, SupportStatus
from registry.supports import SupportSubmission, submit_support
from registry.verification.compulsa import verify_process
from tests.factories.accounts import make_account
from tests.factories.photos import plain_photo
from tests.factories.processes import make_aspirant, make_auxiliary
from tests.factories.roll import citizen, make_roll

F = ReviewFlag
_keys = itertools.count(1)
_cics = itertools.count(500_000_001)


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return open_image_store(tmp_path / "images", image_key="", secret_key="s" * 40)


def credential(*, cic: str | None = None, **changes: object) -> CredentialData:
    fields: dict[str, object] = {"source": ReadingSource.PIPELINE, "cic": cic or f"{next(_cics):09d}"}
    return CredentialData(**{**fields, **changes})  # type: ignore[arg-type]


def submit(session: Session, aspirant: Aspirant, *, data: CredentialData | None = None,
           channel: Channel = Channel.AUXILIARY, auxiliary: Auxiliary | None = None,
           captured_at: datetime | None = None, manual: bool = False, now: datetime | None = None) -> Support:
    assert aspirant.id is not None
    submission = SupportSubmission(
        idempotency_key=f"flags-{next(_keys)}", aspirant_id=aspirant.id, channel=channel,
        credential=data or credential(), captured_at=captured_at or utcnow() - timedelta(minutes=5),
        auxiliary_id=auxiliary.id if auxiliary else None, manual_capture=manual)
    receipt = submit_support(session=session, submission=submission, actor_account_id=None, now=now or utcnow())
    support = session.get(Support, receipt.support_id)
    assert support is not None
    return support


def flags(session: Session, support: Support) -> set[ReviewFlag]:
    assert support.id is not None
    return {row.flag for row in flags_of(session=session, support_ids=[support.id]).get(support.id, [])}


# ---------------------------------------------------------------- typed identifiers


def test_an_auxiliarys_typed_identifiers_are_flagged_as_manual_capture(session: Session, aspirant: Aspirant) -> None:
    typed = credential(source=ReadingSource.MANUAL, cic=None, clave_elector="GOMVMR80070509M100", ocr="0747116375842")
    support = submit(session, aspirant, data=typed, auxiliary=make_auxiliary(session, aspirant=aspirant), manual=True)
    read = submit(session, aspirant)
    assert flags(session, support) == {F.MANUAL_CAPTURE}
    assert flags(session, read) == set()


@pytest.mark.parametrize(("channel", "source"), [(Channel.PAPER, ReadingSource.PAPER),
                                                 (Channel.BULK_IMPORT, ReadingSource.BULK)])
def test_paper_and_bulk_supports_typed_by_the_opl_are_not_manual_captures(
        session: Session, aspirant: Aspirant, channel: Channel, source: ReadingSource) -> None:
    typed = credential(source=source, cic=None, clave_elector="GOMVMR80070509M100", ocr="0747116375842")
    support = submit(session, aspirant, data=typed, channel=channel, manual=True)
    assert F.MANUAL_CAPTURE not in flags(session, support)


# ---------------------------------------------------------------- the same photo twice


def test_a_back_photo_already_in_another_support_is_flagged(session: Session, store: ImageStore,
                                                            aspirant: Aspirant) -> None:
    image = clean_image(plain_photo(151), kind=ImageKind.BACK, max_bytes=15_000_000, max_pixels=50_000_000)
    first_row, second_row = (store_image(session=session, store=store, image=image) for _ in range(2))
    assert first_row.id == second_row.id  # the store keeps identical bytes once
    assert len(session.exec(select(StoredImage)).all()) == 1
    other = make_aspirant(session, process=session.get(Process, aspirant.process_id), name="Otra Aspirante")
    first = submit(session, aspirant, data=credential(back_image_id=first_row.id))
    second = submit(session, other, data=credential(back_image_id=second_row.id))
    assert F.IMAGE_REUSED not in flags(session, first)
    assert F.IMAGE_REUSED in flags(session, second)


def test_a_photo_read_twice_for_activation_codes_but_used_in_one_support_is_not_reuse(
        session: Session, store: ImageStore, aspirant: Aspirant) -> None:
    image = clean_image(plain_photo(152), kind=ImageKind.BACK, max_bytes=15_000_000, max_pixels=50_000_000)
    row = store_image(session=session, store=store, image=image)
    data = credential(back_image_id=row.id, qr_text="http://qr.ine.mx/1/20200101/P/1")
    store_reading(session, data)  # the first code's reading: the citizen sent the same photo again later
    support = submit(session, aspirant, data=data, channel=Channel.CITIZEN)
    assert flags(session, support) == set()


# ---------------------------------------------------------------- capture pace


def test_an_auxiliary_capturing_every_5_seconds_is_flagged_from_the_tenth_capture(
        session: Session, process: Process, aspirant: Aspirant) -> None:
    assert process.capture_interval_seconds == 30
    fast, steady = (make_auxiliary(session, aspirant=aspirant, email=f"{n}@x.mx") for n in ("rapido", "pausado"))
    start = utcnow() - timedelta(hours=3)
    quick = [submit(session, aspirant, auxiliary=fast, captured_at=start + timedelta(seconds=5 * n))
             for n in range(SUSTAINED_CAPTURES + 2)]
    calm = [submit(session, aspirant, auxiliary=steady, captured_at=start + timedelta(seconds=60 * n))
            for n in range(SUSTAINED_CAPTURES + 5)]
    flagged = [F.CAPTURE_RATE in flags(session, support) for support in quick]
    assert flagged == [False] * (SUSTAINED_CAPTURES - 1) + [True] * 3
    assert not any(F.CAPTURE_RATE in flags(session, support) for support in calm)


def test_the_pace_follows_the_processs_interval(session: Session, process: Process, aspirant: Aspirant) -> None:
    process.capture_interval_seconds = 90
    session.add(process)
    auxiliary = make_auxiliary(session, aspirant=aspirant)
    start = utcnow() - timedelta(hours=3)
    supports = [submit(session, aspirant, auxiliary=auxiliary, captured_at=start + timedelta(seconds=60 * n))
                for n in range(SUSTAINED_CAPTURES)]
    assert F.CAPTURE_RATE in flags(session, supports[-1])


# ---------------------------------------------------------------- device time


@pytest.mark.parametrize(("shift", "flagged"), [(timedelta(minutes=-5), False), (timedelta(days=2), True),
                                                (timedelta(days=-40), True)])
def test_a_device_time_far_from_the_servers_is_flagged(session: Session, aspirant: Aspirant, shift: timedelta,
                                                       flagged: bool) -> None:
    support = submit(session, aspirant, captured_at=utcnow() + shift)
    assert (F.DEVICE_TIME in flags(session, support)) is flagged


def test_a_field_capture_an_hour_ahead_of_the_server_is_flagged_for_the_desk(
        session: Session, store: ImageStore, aspirant: Aspirant) -> None:
    """The field's own rule (10 minutes ahead) is judged before the intake: the flag must still be written, or
    the compulsa would count the support without review."""
    account = make_account(session, role=Role.AUXILIARY, aspirant_id=aspirant.id)
    auxiliary = make_auxiliary(session, aspirant=aspirant, account=account)
    assert aspirant.id is not None and auxiliary.id is not None and account.id is not None
    now, ahead = utcnow(), utcnow() + timedelta(hours=1)
    late = window_flag(session=session, aspirant_id=aspirant.id, captured_at=ahead, now=now, rules=WindowRules())
    capture = FieldCapture(index=0, client_key="clave-cliente-0001", aspirant_id=aspirant.id, captured_at=ahead,
                           images=CaptureImages(back=None, front=None, live_photo=None, signature=None))
    receipt = record_capture(session=session, store=store, images={}, capture=capture,
                             credential=Credential(data=credential(), manual=False), auxiliary_id=auxiliary.id,
                             actor_account_id=account.id, now=now, flagged=late)
    support = session.get(Support, receipt.support_id)
    assert late and support is not None and support.device_time_suspect
    assert F.DEVICE_TIME in flags(session, support)


# ---------------------------------------------------------------- QR with another CIC


def test_a_qr_token_seen_before_with_another_cic_is_flagged(session: Session, process: Process,
                                                            aspirant: Aspirant) -> None:
    other = make_aspirant(session, process=process, name="Otra Aspirante")
    qr = "http://qr.ine.mx/000000000000000000000009/20200101/P/000009"
    first = submit(session, aspirant, data=credential(cic="111111111", qr_text=qr))
    same_cic = submit(session, other, data=credential(cic="111111111", qr_text=qr))
    other_cic = submit(session, other, data=credential(cic="222222222", qr_text=qr))
    assert F.QR_OTHER_CIC not in flags(session, first) | flags(session, same_cic)
    assert F.QR_OTHER_CIC in flags(session, other_cic)


# ---------------------------------------------------------------- the OPL's sample


def test_a_sample_of_0_percent_never_draws_and_100_percent_draws_every_unflagged_support(
        session: Session, process: Process, aspirant: Aspirant) -> None:
    assert process.review_sample_percent == 0
    assert all(flags(session, submit(session, aspirant)) == set() for _ in range(20))
    process.review_sample_percent = 100
    session.add(process)
    assert all(flags(session, submit(session, aspirant)) == {F.SAMPLE} for _ in range(5))
    typed = submit(session, aspirant, auxiliary=make_auxiliary(session, aspirant=aspirant), manual=True)
    assert flags(session, typed) == {F.MANUAL_CAPTURE}  # already going to the desk: no sample flag on top


# ---------------------------------------------------------------- flags themselves


def test_a_flag_is_recorded_once(session: Session, aspirant: Aspirant) -> None:
    support = submit(session, aspirant)
    assert support.id is not None
    now = utcnow()
    assert add_flag(session=session, support_id=support.id, flag=F.DISOWNED, detail="x", now=now)
    assert not add_flag(session=session, support_id=support.id, flag=F.DISOWNED, detail="y", now=now)
    session.commit()
    rows = session.exec(select(SupportFlag).where(SupportFlag.support_id == support.id)).all()
    assert [(row.flag, row.detail) for row in rows] == [(F.DISOWNED, "x")]


# ---------------------------------------------------------------- then the compulsa


def test_the_compulsa_sends_flagged_supports_on_the_roll_to_review_and_counts_unflagged_ones(
        session: Session, process: Process, aspirant: Aspirant) -> None:
    people = [citizen() for _ in range(4)]
    opl = session.get(Opl, process.opl_id)
    assert opl is not None
    make_roll(session, opl=opl, citizens=people)
    auxiliary = make_auxiliary(session, aspirant=aspirant)
    plain = submit(session, aspirant, data=credential(cic=people[0].cic))
    typed = submit(session, aspirant, auxiliary=auxiliary, manual=True,
                   data=credential(source=ReadingSource.MANUAL, cic=None, clave_elector=people[1].clave_elector,
                                   ocr=people[1].ocr))
    ahead = submit(session, aspirant, data=credential(cic=people[2].cic), captured_at=utcnow() + timedelta(days=3))
    missing = submit(session, aspirant, manual=True, auxiliary=auxiliary)  # a CIC nobody in the roll has
    session.commit()
    assert process.id is not None
    verify_process(session=session, process_id=process.id, now=utcnow())
    session.commit()
    session.expire_all()
    status = {row.id: row.status for row in session.exec(select(Support).where(
        col(Support.id).in_([plain.id, typed.id, ahead.id, missing.id])))}
    assert status[plain.id] is SupportStatus.VALID
    assert status[typed.id] is status[ahead.id] is SupportStatus.IN_REVIEW
    assert status[missing.id] is SupportStatus.INVALID  # not on the roll: no review can make it count

