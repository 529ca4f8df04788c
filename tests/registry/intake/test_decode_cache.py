"""The decode cache shared by every web worker (issue 14): a reading made by one worker is found by another, kept
encrypted (it holds personal data), read as absent once expired and purged by a later write."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from core.clock import utcnow
from registry.intake.decode_cache import SharedReadingCache
from registry.intake.reading import ImageLimits, decode_back
from registry.models import DecodeCacheEntry
from tests.factories.photos import flat_back, flat_identity

TODAY = date(2026, 1, 1)
LIMITS = ImageLimits(max_bytes=15_000_000, max_pixels=50_000_000)
KEY = Fernet.generate_key()


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def test_a_reading_made_by_one_worker_is_found_by_another_and_kept_encrypted(engine: Engine,
                                                                            app_engine: Engine) -> None:
    one, other = SharedReadingCache(app_engine, Fernet(KEY)), SharedReadingCache(app_engine, Fernet(KEY))
    first = decode_back(flat_back(1), today=TODAY, limits=LIMITS, budget_ms=10_000, cache=one)
    assert first.reading.mrz_ok and first.image is not None
    key = (hashlib.sha256(flat_back(1)).hexdigest(), TODAY)
    found = other.get(key)
    assert found == first  # the other worker's photo of the same bytes, same day, needs no second decode
    assert decode_back(flat_back(1), today=TODAY, limits=LIMITS, budget_ms=10_000, cache=other) == first
    assert other.get((key[0], date(2026, 1, 2))) is None  # the vigencia is judged again on another day
    with Session(engine) as db:
        [row] = db.exec(select(DecodeCacheEntry)).all()
    assert flat_identity(1).cic.encode() not in row.payload and first.image.jpeg[:64] not in row.payload
    assert SharedReadingCache(app_engine, Fernet(Fernet.generate_key())).get(key) is None  # another key: a miss


def test_an_expired_reading_is_absent_and_the_next_write_purges_it(engine: Engine, app_engine: Engine) -> None:
    clock = Clock()
    cache = SharedReadingCache(app_engine, Fernet(KEY), seconds=60, clock=clock)
    decoded = decode_back(flat_back(2), today=TODAY, limits=LIMITS, budget_ms=10_000, cache=cache)
    key = (hashlib.sha256(flat_back(2)).hexdigest(), TODAY)
    assert cache.get(key) == decoded
    clock.now += timedelta(seconds=61)
    assert cache.get(key) is None
    cache.put(("another-photo", TODAY), decoded)
    with Session(engine) as db:
        assert db.exec(select(DecodeCacheEntry.sha256)).all() == ["another-photo"]
        assert db.exec(select(func.count()).select_from(DecodeCacheEntry)).one() == 1


def test_the_same_photo_stored_twice_keeps_one_row(engine: Engine, app_engine: Engine) -> None:
    cache = SharedReadingCache(app_engine, Fernet(KEY))
    decoded = decode_back(flat_back(3), today=TODAY, limits=LIMITS, budget_ms=10_000)
    key = (hashlib.sha256(flat_back(3)).hexdigest(), TODAY)
    cache.put(key, decoded)
    cache.put(key, decoded)  # two workers finishing the same photo
    assert cache.get(key) == decoded
    with Session(engine) as db:
        assert db.exec(select(func.count()).select_from(DecodeCacheEntry)).one() == 1
