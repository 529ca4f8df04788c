"""The decode cache shared by every web worker (registry/intake/decode_cache.py): one row per back photo (its
SHA-256) and day, holding the server's reading and the photo's copy for the store, encrypted."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.columns import utc_datetime


class DecodeCacheEntry(SQLModel, table=True):
    __tablename__ = "decodecache"

    sha256: str = Field(primary_key=True, max_length=64)  # of the upload as sent
    day: date = Field(primary_key=True)  # the day in Mexico that decided the credential's vigencia
    expires_at: datetime = Field(sa_type=utc_datetime(), index=True)  # read as absent after it, purged lazily
    payload: bytes = Field(sa_type=sa.LargeBinary())  # Fernet token (image key): the reading holds personal data
