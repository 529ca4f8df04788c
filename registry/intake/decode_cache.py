"""The decode cache shared by every web worker: the field page's instant read of a back photo and the batch that
follows (the same bytes, moments later) may be answered by different worker processes, so the reading is kept in
the database (`decodecache`), not in one process's memory.

A row holds the server's own reading and the photo's copy for the store: personal data (CIC, names in the MRZ, the
photo), so it is encrypted with the image key (Fernet, like registry/images.py), lives `KEEP_SECONDS`, and expired
rows are deleted by the next write (lazily: no timer, no extra job). The cache is an optimisation only: when the
database cannot be reached, or a row cannot be decrypted (the image key changed), the photo is simply decoded
again."""

from __future__ import annotations

import logging
import pickle
from datetime import date, timedelta

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import col

from core.clock import Clock, utcnow
from core.db import session_scope
from registry.images import derive_image_key
from registry.intake.reading import KEEP_SECONDS, BackDecode
from registry.models import DecodeCacheEntry

log = logging.getLogger(__name__)


class SharedReadingCache:
    """Recent decodes by (SHA-256 of the photo, the day that decided its vigencia), in the database."""

    def __init__(self, engine: Engine, fernet: Fernet, *, seconds: float = KEEP_SECONDS,
                 clock: Clock = utcnow) -> None:
        self._engine, self._fernet, self._clock = engine, fernet, clock
        self._keep = timedelta(seconds=seconds)

    @classmethod
    def for_keys(cls, engine: Engine, *, image_key: str, secret_key: str) -> SharedReadingCache:
        """Under the image store's key (REGISTRO_IMAGE_KEY, or derived from the secret as the store does)."""
        return cls(engine, Fernet(image_key.encode() if image_key else derive_image_key(secret_key)))

    def get(self, key: tuple[str, date]) -> BackDecode | None:
        try:
            with session_scope(self._engine, read_only=True) as session:
                row = session.get(DecodeCacheEntry, key)
                if row is None or row.expires_at <= self._clock():
                    return None
                token = row.payload
        except SQLAlchemyError as error:
            log.warning("decode cache unavailable (%s); decoding again", type(error).__name__)
            return None
        try:
            # Only a token this app sealed opens (Fernet authenticates it), so nothing but our own pickle is loaded.
            decoded: BackDecode = pickle.loads(self._fernet.decrypt(token))  # noqa: S301
        except InvalidToken:
            return None  # sealed under a key since replaced
        return decoded

    def put(self, key: tuple[str, date], decoded: BackDecode) -> None:
        now = self._clock()
        token = self._fernet.encrypt(pickle.dumps(decoded))
        try:
            with session_scope(self._engine) as session:
                session.execute(delete(DecodeCacheEntry).where(col(DecodeCacheEntry.expires_at) <= now))
                session.merge(DecodeCacheEntry(sha256=key[0], day=key[1], expires_at=now + self._keep,
                                               payload=token))
        except IntegrityError:
            pass  # another worker stored the same photo's reading at the same instant: theirs is as good
        except SQLAlchemyError as error:
            log.warning("decode cache unavailable (%s); reading not kept", type(error).__name__)
