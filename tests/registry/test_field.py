from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

import registry.field
from auth.roles import Role
from capture.pipeline import read_back
from core.clock import utcnow
from registry.field import (
    BatchContext,
    own_captures,
    process_batch,
    record_capture,
)
from registry.field_batch import CaptureImages, FieldCapture, MalformedItem
from registry.field_online import Draft, store_draft_images, submit_draft
from registry.field_window import WindowRules
from registry.images import open_image_store
from registry.intake.credential import TypedIdentifiers, credential_from_reading
from registry.intake.photos import clean_photos
from registry.intake.reading import ImageLimits, decode_back
from registry.intake.refusals import Refusal, Refused
from registry.models import Auxiliary, CredentialReading, StoredImage, Support
from registry.states import InvitationState, ReadingSource, SignatureMethod
from registry.supports import SupportReceipt
from tests.factories.accounts import make_account
from tests.factories.photos import flat_back, flat_identity, plain_photo, signature_png, unreadable_back
from tests.factories.processes import make_aspirant, make_auxiliary, make_process

TODAY = utcnow().date()
LIMITS = ImageLimits(max_bytes=15_000_000, max_pixels=50_000_000)
RULES = WindowRules(grace=timedelta(hours=72), clock_skew=timedelta(minutes=10))


def _images(back: bytes | None = None, **changes: bytes | None) -> CaptureImages:
    parts: dict[str, bytes | None] = {"back": back, "front": plain_photo(170), "live_photo": plain_photo(150),
                                      "signature": signature_png()}
    return CaptureImages(**{**parts, **changes})


def _capture(index: int, aspirant_id: int, *, seed: int | None = None, key: str | None = None,
             typed: TypedIdentifiers | None = None, back: bytes | None = None, **changes: Any) -> FieldCapture:
    photo = back if back is not None else flat_back(seed if seed is not None else index)
    fields: dict[str, Any] = {"index": index, "client_key": key or f"clave-cliente-{index:04d}",
                              "aspirant_id": aspirant_id, "captured_at": utcnow() - timedelta(minutes=5),
                              "images": _images(photo), "typed": typed}
    return FieldCapture(**{**fields, **changes})


class Team:
    def __init__(self, session: Session, *, opens: datetime | None = None, closes: datetime | None = None) -> None:
        self.aspirant = make_aspirant(session, process=make_process(session, opens=opens, closes=closes))
        self.account = make_account(session, name="Auxiliar", role=Role.AUXILIARY, aspirant_id=self.aspirant.id)
        self.auxiliary = make_auxiliary(session, aspirant=self.aspirant, account=self.account)
        session.commit()


def _context(engine: Engine, tmp_path: Path, account_id: int, **changes: Any) -> BatchContext:
    fields: dict[str, Any] = {
        "engine": engine, "store": open_image_store(tmp_path / "images", image_key="", secret_key="s" * 40),
        "limits": LIMITS, "decode": partial(decode_back, today=TODAY, limits=LIMITS, budget_ms=2500),
        "clock": utcnow, "account_id": account_id, "today": TODAY}
    return BatchContext(**{**fields, **changes})


def _supports(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Support)).one()


def test_a_readable_back_is_stored_from_the_servers_own_reading(engine: Engine, session: Session,
                                                                  tmp_path: Path) -> None:
    team = Team(session)
    typed = TypedIdentifiers(cic="123456789")  # ignored: the server read the MRZ itself
    [answer] = process_batch(_context(engine, tmp_path, team.account.id), [_capture(0, team.aspirant.id,
                                                                                     typed=typed)])
    assert (answer.status, answer.replay, answer.manual_capture) == ("received", False, False)
    with Session(engine) as check:
        support = check.exec(select(Support)).one()
        reading = check.get(CredentialReading, support.reading_id)
        assert support.folio == answer.folio and support.auxiliary_id == team.auxiliary.id
        assert support.cic == flat_identity(0).cic and reading.source is ReadingSource.PIPELINE
        assert reading.qr_text == flat_identity(0).qr_url and not support.manual_capture
        assert support.live_photo_id and support.signature_image_id and reading.front_image_id


def test_an_unreadable_back_with_typed_identifiers_is_a_manual_capture(engine: Engine, session: Session,
                                                                        tmp_path: Path) -> None:
    team = Team(session)
    item = _capture(0, team.aspirant.id, back=unreadable_back(),
                    typed=TypedIdentifiers(clave_elector="gomvmr80070509m100", ocr="0747116375842"))
    [answer] = process_batch(_context(engine, tmp_path, team.account.id), [item])
    assert (answer.status, answer.manual_capture) == ("received", True)
    with Session(engine) as check:
        support = check.exec(select(Support)).one()
        assert support.manual_capture and support.clave_elector == "GOMVMR80070509M100" and support.cic is None


@pytest.mark.parametrize(("typed", "code", "detail"), [
    (None, Refusal.UNREADABLE, "no_qr_found"),
    (TypedIdentifiers(cic="12345"), Refusal.INVALID_IDENTIFIER, "cic:wrong_length"),
    (TypedIdentifiers(clave_elector="GOMVMR80070509M100"), Refusal.INVALID_IDENTIFIER, "ocr:empty"),
])
def test_unreadable_backs_need_valid_typed_identifiers(typed: TypedIdentifiers | None, code: str,
                                                       detail: str) -> None:
    reading = read_back(unreadable_back(), today=TODAY)
    with pytest.raises(Refused) as refused:
        credential_from_reading(reading, typed, today=TODAY)
    assert (refused.value.code, refused.value.detail) == (code, detail)


def test_an_expired_credential_is_refused_even_with_typed_identifiers() -> None:
    later = date(flat_identity(0).expiry_year + 1, 6, 1)
    reading = read_back(flat_back(0), today=later)
    with pytest.raises(Refused) as refused:
        credential_from_reading(reading, TypedIdentifiers(cic="123456789"), today=later)
    assert refused.value.code == Refusal.CREDENTIAL_EXPIRED


def test_repeated_keys_answer_the_same_folio_and_store_once(engine: Engine, session: Session,
                                                             tmp_path: Path) -> None:
    team = Team(session)
    context = _context(engine, tmp_path, team.account.id)
    first = process_batch(context, [_capture(0, team.aspirant.id)])
    again = process_batch(context, [_capture(0, team.aspirant.id), _capture(1, team.aspirant.id, seed=0,
                                                                            key="clave-cliente-0000")])
    assert [a.folio for a in again] == [first[0].folio] * 2 and all(a.replay for a in again)
    assert _supports(engine) == 1


def _failing_on(call: int) -> tuple[Callable[..., SupportReceipt], list[str]]:
    """record_capture, except that the `call`-th capture it writes raises after writing, each time it is written
    (the batch writes it again, with a savepoint, after such a failure): a real mid-write failure."""
    calls: list[str] = []

    def write(**kwargs: Any) -> SupportReceipt:
        key = kwargs["capture"].client_key
        calls.extend([key] if key not in calls else [])
        receipt = record_capture(**kwargs)
        if calls.index(key) == call - 1:
            raise OSError("disk went away mid-write")
        return receipt

    return write, calls


def test_a_failed_write_mid_batch_is_retryable_and_never_duplicated(engine: Engine, session: Session,
                                                                    tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    team = Team(session)
    write, _calls = _failing_on(2)
    items = [_capture(n, team.aspirant.id) for n in range(3)]
    with monkeypatch.context() as patched:
        patched.setattr(registry.field, "record_capture", write)
        answers = process_batch(_context(engine, tmp_path, team.account.id), items)
    assert [(a.status, a.retryable) for a in answers] == [("received", False), ("error", True), ("received", False)]
    assert _supports(engine) == 2
    retried = process_batch(_context(engine, tmp_path, team.account.id), items)
    assert [a.status for a in retried] == ["received"] * 3 and [a.replay for a in retried] == [True, False, True]
    assert retried[0].folio == answers[0].folio and _supports(engine) == 3


def test_inactive_or_foreign_auxiliaries_and_malformed_items_get_their_own_answers(
        engine: Engine, session: Session, tmp_path: Path) -> None:
    team, other = Team(session), Team(session)
    context = _context(engine, tmp_path, team.account.id)
    [stored] = process_batch(context, [_capture(0, team.aspirant.id)])
    team.auxiliary.state = InvitationState.SUSPENDED
    session.add(team.auxiliary)
    session.commit()
    answers = process_batch(context, [
        _capture(0, team.aspirant.id),  # stored before the suspension: still acknowledged
        _capture(1, team.aspirant.id),
        _capture(2, other.aspirant.id),
        MalformedItem(3, "clave-cliente-0003", "captured_at"),
    ])
    assert [(a.status, a.code) for a in answers] == [
        ("received", ""), ("refused", "auxiliary_inactive"), ("refused", "auxiliary_not_of_aspirant"),
        ("error", "malformed")]
    assert answers[0].folio == stored.folio and _supports(engine) == 1


def test_missing_photos_are_refused_unless_the_signature_has_the_accessible_alternative(
        engine: Engine, session: Session, tmp_path: Path) -> None:
    team = Team(session)
    no_front = _capture(0, team.aspirant.id, images=_images(flat_back(0), front=None, signature=None))
    alternative = _capture(1, team.aspirant.id, images=_images(flat_back(1), signature=None),
                           signature_method=SignatureMethod.ACCESSIBLE_ALTERNATIVE)
    answers = process_batch(_context(engine, tmp_path, team.account.id), [no_front, alternative])
    assert [(a.status, a.detail) for a in answers] == [("refused", "front,signature"), ("received", "")]


def test_a_photo_that_is_not_an_image_is_refused_and_leaves_nothing(engine: Engine, session: Session,
                                                                     tmp_path: Path) -> None:
    team = Team(session)
    item = _capture(0, team.aspirant.id, images=_images(flat_back(0), live_photo=b"not an image at all" * 20))
    [answer] = process_batch(_context(engine, tmp_path, team.account.id), [item])
    assert (answer.status, answer.code, answer.detail) == ("refused", "bad_image", "live_photo:not_an_image")
    with Session(engine) as check:
        assert check.exec(select(func.count()).select_from(StoredImage)).one() == 0


def test_an_auxiliary_sees_only_their_own_captures(engine: Engine, session: Session, tmp_path: Path) -> None:
    team, other = Team(session), Team(session)
    process_batch(_context(engine, tmp_path, team.account.id), [_capture(0, team.aspirant.id)])
    process_batch(_context(engine, tmp_path, other.account.id), [_capture(1, other.aspirant.id)])
    with Session(engine) as check:
        mine = own_captures(session=check, account_id=team.account.id)
        folios = {s.folio for s in check.exec(select(Support).where(Support.auxiliary_id == team.auxiliary.id))}
    assert {capture.folio for capture in mine} == folios and len(mine) == 1


def test_the_online_form_confirms_a_draft_once(session: Session, tmp_path: Path) -> None:
    team = Team(session)
    store = open_image_store(tmp_path / "images", image_key="", secret_key="s" * 40)
    ids = store_draft_images(session=session, store=store, account_id=team.account.id, aspirant_id=team.aspirant.id,
                             images=clean_photos(_images(unreadable_back()).present(), LIMITS), now=utcnow(),
                             rules=RULES)
    draft = Draft(client_key="borrador-0001", aspirant_id=team.aspirant.id, captured_at=utcnow(),
                  signature_method=SignatureMethod.DRAWN, image_ids=ids, reading=None)
    travelled = Draft.from_json(draft.to_json())
    with pytest.raises(Refused):
        submit_draft(session=session, account_id=team.account.id, draft=travelled, typed=None, today=TODAY,
                     now=utcnow(), rules=RULES)
    typed = TypedIdentifiers(cic="183657717")
    first = submit_draft(session=session, account_id=team.account.id, draft=travelled, typed=typed, today=TODAY,
                         now=utcnow(), rules=RULES)
    again = submit_draft(session=session, account_id=team.account.id, draft=travelled, typed=typed, today=TODAY,
                         now=utcnow(), rules=RULES)
    assert first.folio == again.folio and not again.created
    support = session.get(Support, first.support_id)
    assert support is not None and support.manual_capture and isinstance(support.captured_at, datetime)
    assert session.get(Auxiliary, team.auxiliary.id) is not None


@pytest.mark.parametrize(("shift", "suspect"), [(timedelta(minutes=-5), False), (timedelta(minutes=5), False),
                                                (timedelta(minutes=30), True), (timedelta(days=400), True),
                                                (timedelta(days=-4), True)])
def test_device_times_ahead_of_the_server_or_older_than_the_grace_are_flagged(
        engine: Engine, session: Session, tmp_path: Path, shift: timedelta, suspect: bool) -> None:
    team = Team(session)
    item = _capture(0, team.aspirant.id, captured_at=utcnow() + shift)
    [answer] = process_batch(_context(engine, tmp_path, team.account.id), [item])
    with Session(engine) as check:
        support = check.exec(select(Support)).one()
    assert answer.status == "received" and support.device_time_suspect is suspect


def test_a_retry_racing_its_own_first_attempt_is_a_replay_not_a_duplicate(engine: Engine, session: Session,
                                                                          tmp_path: Path) -> None:
    team = Team(session)
    context = _context(engine, tmp_path, team.account.id)
    [first] = process_batch(context, [_capture(0, team.aspirant.id)])
    credential = credential_from_reading(read_back(flat_back(0), today=TODAY), None, today=TODAY)
    with Session(engine) as racing:  # this retry passed prepare_capture before the first attempt committed
        retry = _capture(0, team.aspirant.id)
        receipt = record_capture(session=racing, store=context.store,
                                 images=clean_photos(retry.images.present(), LIMITS), capture=retry,
                                 credential=credential,
                                 auxiliary_id=team.auxiliary.id, actor_account_id=team.account.id, now=utcnow())
    assert (receipt.folio, receipt.created) == (first.folio, False) and _supports(engine) == 1


def _images_stored(engine: Engine) -> int:
    with Session(engine) as check:
        return check.exec(select(func.count()).select_from(StoredImage)).one()


def test_the_window_refuses_captures_outside_it_per_item_and_flags_late_ones(engine: Engine, session: Session,
                                                                            tmp_path: Path) -> None:
    now = utcnow()
    closed = Team(session, opens=now - timedelta(days=20), closes=now - timedelta(days=1))  # inside the grace
    context = _context(engine, tmp_path, closed.account.id, clock=lambda: now, window=RULES)
    answers = process_batch(context, [
        _capture(0, closed.aspirant.id, captured_at=now - timedelta(days=2)),  # made inside, sent late
        _capture(1, closed.aspirant.id, captured_at=now - timedelta(hours=1)),  # made after the close
        _capture(2, closed.aspirant.id, captured_at=now - timedelta(days=30)),  # made before the opening
        _capture(3, closed.aspirant.id, seed=3, captured_at=now - timedelta(days=3)),
    ])
    assert [(a.status, a.code) for a in answers] == [
        ("received", ""), ("refused", "captured_after_window"), ("refused", "captured_before_window"),
        ("received", "")]
    with Session(engine) as check:
        supports = check.exec(select(Support)).all()
        readings = [check.get(CredentialReading, s.reading_id) for s in supports]
    assert sorted(s.folio for s in supports) == sorted([answers[0].folio, answers[3].folio])
    assert all(s.device_time_suspect for s in supports)
    kept = {s.live_photo_id for s in supports} | {s.signature_image_id for s in supports} \
        | {r.back_image_id for r in readings if r} | {r.front_image_id for r in readings if r}
    assert _images_stored(engine) == len(kept - {None})  # the refused captures' photos were never stored


def test_after_the_grace_everything_is_refused_but_a_replay_keeps_its_folio(engine: Engine, session: Session,
                                                                           tmp_path: Path) -> None:
    now = utcnow()
    team = Team(session, opens=now - timedelta(days=20), closes=now - timedelta(days=1))
    stored = process_batch(_context(engine, tmp_path, team.account.id, clock=lambda: now, window=RULES),
                           [_capture(0, team.aspirant.id, captured_at=now - timedelta(days=2))])
    later = now + timedelta(days=3)  # close + 4 days: past the 72-hour grace
    answers = process_batch(_context(engine, tmp_path, team.account.id, clock=lambda: later, window=RULES), [
        _capture(0, team.aspirant.id, captured_at=now - timedelta(days=2)),  # the phone never heard the answer
        _capture(1, team.aspirant.id, captured_at=now - timedelta(days=2)),  # claims to be from inside
    ])
    assert [(a.status, a.code, a.folio) for a in answers] == [
        ("received", "", stored[0].folio), ("refused", "window_closed", None)]
    assert _supports(engine) == 1


def test_a_process_not_yet_open_refuses_field_captures(engine: Engine, session: Session, tmp_path: Path) -> None:
    now = utcnow()
    team = Team(session, opens=now + timedelta(days=1), closes=now + timedelta(days=30))
    [answer] = process_batch(_context(engine, tmp_path, team.account.id, clock=lambda: now, window=RULES),
                             [_capture(0, team.aspirant.id, captured_at=now + timedelta(days=2))])
    assert (answer.status, answer.code) == ("refused", "window_not_open") and _supports(engine) == 0


def test_the_online_form_refuses_after_the_close_and_flags_a_draft_confirmed_late(session: Session,
                                                                                 tmp_path: Path) -> None:
    now = utcnow()
    team = Team(session, opens=now - timedelta(days=20), closes=now)
    store = open_image_store(tmp_path / "images", image_key="", secret_key="s" * 40)
    ids = store_draft_images(session=session, store=store, account_id=team.account.id,
                             aspirant_id=team.aspirant.id,
                             images=clean_photos(_images(flat_back(0)).present(), LIMITS),
                             now=now - timedelta(minutes=1), rules=RULES)
    with pytest.raises(Refused) as closed:
        store_draft_images(session=session, store=store, account_id=team.account.id,
                           aspirant_id=team.aspirant.id, images=clean_photos(_images(flat_back(1)).present(), LIMITS),
                           now=now + timedelta(minutes=1), rules=RULES)
    assert closed.value.code is Refusal.PROCESS_CLOSED
    draft = Draft(client_key="borrador-0002", aspirant_id=team.aspirant.id, captured_at=now - timedelta(minutes=1),
                  signature_method=SignatureMethod.DRAWN, image_ids=ids, reading=None)
    receipt = submit_draft(session=session, account_id=team.account.id, draft=draft,
                           typed=TypedIdentifiers(cic="183657717"), today=TODAY, now=now + timedelta(minutes=5),
                           rules=RULES)
    support = session.get(Support, receipt.support_id)
    assert support is not None and support.device_time_suspect
    assert session.exec(select(func.count()).select_from(StoredImage)).one() == 4
