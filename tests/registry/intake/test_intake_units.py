"""The intake's small parts on their own: the reading cache, the draft seal, the refusals' wire detail."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from capture.identifiers import IdentifierError
from capture.result import BackReading, Reason
from registry.intake.drafts import DraftSeal
from registry.intake.reading import BackDecode, ImageLimits, ReadingCache, decode_back
from registry.intake.refusals import Refusal, Refused
from registry.states import ImageKind
from tests.factories.photos import flat_back, plain_photo

TODAY = date(2026, 1, 1)
LIMITS = ImageLimits(max_bytes=15_000_000, max_pixels=50_000_000)


def test_a_kept_reading_is_reused_for_the_same_bytes_and_day_only() -> None:
    cache = ReadingCache()
    first = decode_back(flat_back(1), today=TODAY, limits=LIMITS, budget_ms=10_000, cache=cache)
    assert first.reading.mrz_ok and first.image is not None
    assert decode_back(flat_back(1), today=TODAY, limits=LIMITS, budget_ms=10_000, cache=cache) is first
    later = decode_back(flat_back(1), today=date(2026, 1, 2), limits=LIMITS, budget_ms=10_000, cache=cache)
    assert later is not first  # the vigencia is judged again on another day


def test_old_and_surplus_readings_are_dropped() -> None:
    decoded = BackDecode(reading=BackReading(), image=None)
    stale = ReadingCache(seconds=0)
    stale.put(("a", TODAY), decoded)
    assert stale.get(("a", TODAY)) is None
    small = ReadingCache(entries=1)
    small.put(("a", TODAY), decoded)
    small.put(("b", TODAY), decoded)
    assert (small.get(("a", TODAY)), small.get(("b", TODAY))) == (None, decoded)


def test_a_read_cut_short_by_the_budget_is_not_kept() -> None:
    cache = ReadingCache()
    short = decode_back(plain_photo(200), today=TODAY, limits=LIMITS, budget_ms=0, cache=cache)
    assert Reason.TIME_BUDGET_EXHAUSTED in short.reading.reasons
    assert cache.get((hashlib.sha256(plain_photo(200)).hexdigest(), TODAY)) is None


def test_a_draft_opens_only_for_its_account_and_channel() -> None:
    seal = DraftSeal("s" * 40, "campo")
    token = seal.seal(7, {"aspirant": 3})
    assert seal.open(7, token) == {"aspirant": 3}
    assert seal.open(8, token) is None
    assert DraftSeal("s" * 40, "ciudadano").open(7, token) is None
    assert seal.open(7, token[:-2] + "xx") is None and seal.open(7, None) is None


@pytest.mark.parametrize(("refused", "detail"), [
    (Refused(Refusal.BAD_IMAGE, photo=ImageKind.FRONT, reason=Reason.NOT_AN_IMAGE), "front:not_an_image"),
    (Refused(Refusal.UNREADABLE, reason=Reason.NO_QR_FOUND), "no_qr_found"),
    (Refused(Refusal.INVALID_IDENTIFIER, identifier="cic", problem=IdentifierError.WRONG_LENGTH), "cic:wrong_length"),
    (Refused(Refusal.INCOMPLETE, missing=(ImageKind.FRONT, ImageKind.SIGNATURE)), "front,signature"),
    (Refused(Refusal.ALREADY_SUPPORTED), ""),
])
def test_the_field_api_detail_is_written_from_the_typed_data(refused: Refused, detail: str) -> None:
    assert (refused.detail, refused.code.value) == (detail, str(refused))
