"""Personal columns sealed at rest (AES-GCM) and found again through keyed blind indexes (HMAC-SHA256).

- A sealed value is `base64url(version | key-id length | key id | 96-bit nonce | ciphertext + tag)` in a text
  column. The key id travels with the value, so rotating keys is re-sealing row by row while every configured key
  still opens what it sealed; the AAD is "table.column", so a value copied into another column does not open.
- A blind index is HMAC-SHA256 under a separate key over the purpose and the normalised value, truncated to 128
  bits (hex): equal inputs give equal indexes, so duplicates, joins and look-ups compare indexes, and the database
  never needs the value. The index key is separate so that an index leak does not help read the sealed values.
- One sealer per process, installed at start-up from the settings (`install_sealer`); without one, reading or
  writing a personal column fails loudly instead of storing plaintext.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from core.settings import Settings

VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
BLIND_INDEX_CHARS = 32  # 128 bits in hex: collisions among 100 million values stay out of reach
DERIVED_KEY_ID = "k0"  # the key derived from the secret outside production
TEST_KEY_SEED = "registro test environment: public keys, never for real data"
# Identifiers compare case-insensitively; the QR's token is opaque and compares as written.
_CASE_FOLDED = frozenset({"cic", "clave_elector", "ocr", "identificador", "email", "phone"})


class SealingError(Exception):
    """A sealed value does not open (wrong column, unknown key, tampered) or no sealer is installed."""


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_key(text: str) -> bytes:
    """A configured key: 32 bytes in (url-safe or standard) base64. Raises ValueError, never quoting the key."""
    try:
        raw = _b64decode(text.strip().replace("+", "-").replace("/", "_"))
    except (ValueError, TypeError):
        raise ValueError("a key is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"a key must be {KEY_BYTES} bytes (base64 of 32 random bytes)")
    return raw


def derive_key(secret: str, purpose: str) -> bytes:
    """A key derived from the app secret, so development and tests need no extra setting."""
    info = f"registro {purpose}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(secret.encode())


def normalise(value: str, purpose: str) -> str:
    stripped = value.strip()
    return stripped.upper() if purpose in _CASE_FOLDED else stripped


@dataclass(frozen=True)
class Sealer:
    keys: Mapping[str, bytes]  # key id -> 32-byte AES key; every key that may have sealed a stored value
    current_key_id: str
    index_key: bytes
    previous_index_keys: tuple[bytes, ...] = ()  # during an index-key rotation: look-ups try these too
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, compare=False, repr=False)
    _keyed: dict[bytes, hmac.HMAC] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.current_key_id not in self.keys:
            raise ValueError("the current data key id is not among the configured data keys")
        for key_id, key in self.keys.items():
            if len(key) != KEY_BYTES or not 0 < len(key_id.encode()) < 256:
                raise ValueError("every data key must be 32 bytes with a short id")
            self._ciphers[key_id] = AESGCM(key)

    def seal(self, plaintext: str, *, aad: str) -> str:
        key_id = self.current_key_id.encode()
        nonce = os.urandom(NONCE_BYTES)
        body = self._ciphers[self.current_key_id].encrypt(nonce, plaintext.encode(), aad.encode())
        packed = bytes([VERSION, len(key_id)]) + key_id + nonce + body
        return base64.urlsafe_b64encode(packed).decode().rstrip("=")

    def open(self, sealed: str, *, aad: str) -> str:
        key_id, nonce, body = self._unpack(sealed)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise SealingError("a sealed value names a data key that is not configured")
        try:
            return cipher.decrypt(nonce, body, aad.encode()).decode()
        except InvalidTag:
            raise SealingError(f"a sealed value does not open as {aad} (moved, tampered or wrong key)") from None

    def key_id_of(self, sealed: str) -> str:
        return self._unpack(sealed)[0]

    def _unpack(self, sealed: str) -> tuple[str, bytes, bytes]:
        try:
            raw = _b64decode(sealed)
        except (ValueError, TypeError):
            raise SealingError("a personal column holds a value that is not sealed") from None
        if len(raw) < 2 or raw[0] != VERSION:
            raise SealingError("a personal column holds a value that is not sealed")
        end = 2 + raw[1]
        if len(raw) < end + NONCE_BYTES + 16:
            raise SealingError("a sealed value is truncated")
        return raw[2:end].decode(errors="replace"), raw[end:end + NONCE_BYTES], raw[end + NONCE_BYTES:]

    def blind_index(self, value: str, purpose: str) -> str:
        return self._index(self.index_key, value, purpose)

    def blind_indexes(self, value: str, purpose: str) -> list[str]:
        """Every index the value may be stored under: the current key's first, then a rotation's old ones."""
        return [self._index(key, value, purpose) for key in (self.index_key, *self.previous_index_keys)]

    def _index(self, key: bytes, value: str, purpose: str) -> str:
        # The keyed state is made once per key and copied per value: a roll import computes 40 million of these.
        keyed = self._keyed.get(key)
        if keyed is None:
            keyed = self._keyed[key] = hmac.new(key, digestmod=hashlib.sha256)
        mac = keyed.copy()
        mac.update(f"{purpose}\x00{normalise(value, purpose)}".encode())
        return mac.hexdigest()[:BLIND_INDEX_CHARS]


_installed: list[Sealer] = []


def install_sealer(sealer: Sealer) -> None:
    """The process's one sealer (re-installing replaces it: tests build apps with other secrets)."""
    _installed[:] = [sealer]


def current_sealer() -> Sealer:
    if not _installed:
        raise SealingError("no data key is installed: personal columns can be neither read nor written")
    return _installed[0]


def sealer_from_settings(settings: Settings) -> Sealer:
    """Configured keys; production refuses to start without them (core/settings.py). Otherwise derived: in
    development from the secret, so the quick start needs nothing; in the test environment from a fixed public
    label, so every process of a test run (the suite, the command lines and servers it starts, each with a secret
    of its own) opens the same rows. The test environment never holds real data: it signs anybody in."""
    keys = {key_id: decode_key(text) for key_id, text in settings.data_keys.items()}
    current = settings.data_key_id or DERIVED_KEY_ID
    seed = TEST_KEY_SEED if settings.env == "test" else settings.secret_key
    if not keys:
        keys = {DERIVED_KEY_ID: derive_key(seed, "data key")}
    index_key = decode_key(settings.index_key) if settings.index_key else derive_key(seed, "blind index key")
    previous = tuple(decode_key(text) for text in settings.previous_index_keys)
    return Sealer(keys=keys, current_key_id=current, index_key=index_key, previous_index_keys=previous)


def blind_index(value: str | None, purpose: str) -> str | None:
    return None if value is None else current_sealer().blind_index(value, purpose)


def blind_match(column: Any, value: str, purpose: str) -> sa.ColumnElement[bool]:
    """`column` (a blind index) equals `value`'s index under any configured index key."""
    indexes = current_sealer().blind_indexes(value, purpose)
    return column == indexes[0] if len(indexes) == 1 else column.in_(indexes)


def blind_in(column: Any, values: Iterable[str], purpose: str) -> sa.ColumnElement[bool]:
    """`column` (a blind index) is the index of one of `values`, under any configured index key."""
    sealer = current_sealer()
    return column.in_(sorted({index for value in values for index in sealer.blind_indexes(value, purpose)}))


class Sealed(sa.types.TypeDecorator[str]):
    """A personal text column: plaintext in Python, sealed in the database under AAD "table.column"."""

    impl = sa.Text
    cache_ok = True

    class comparator_factory(sa.Text.Comparator[str]):  # SQLAlchemy names it so
        def operate(self, op: Callable[..., Any], *other: Any, **kwargs: Any) -> Any:
            # IS NULL / IS NOT NULL still work; an equality would compare random nonces and silently find nothing.
            if op in (sa.sql.operators.is_, sa.sql.operators.is_not):
                return super().operate(op, *other, **kwargs)
            raise TypeError("a sealed column cannot be compared in SQL: compare its blind index instead")

    def __init__(self, table: str, column: str) -> None:
        super().__init__()
        self.aad = f"{table}.{column}"

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else current_sealer().seal(value, aad=self.aad)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else current_sealer().open(value, aad=self.aad)


def sealed(table: str, column: str) -> Any:
    return Sealed(table, column)


BlindIndexes = Mapping[str, tuple[str, str]]  # plaintext attribute -> (blind index attribute, purpose)


def keep_blind_indexes(model: type, indexes: BlindIndexes) -> None:
    """Whenever the ORM writes `model`, its blind indexes follow its plaintext attributes."""

    def fill(_mapper: object, _connection: object, target: object) -> None:
        for attribute, (index_attribute, purpose) in indexes.items():
            setattr(target, index_attribute, blind_index(getattr(target, attribute), purpose))

    def refill(_mapper: object, _connection: object, target: object) -> None:
        # Only what changed: a status change must not rewrite (and, on PostgreSQL, re-index) the blind indexes.
        state = sa.inspect(target)
        for attribute, (index_attribute, purpose) in indexes.items():
            if state.attrs[attribute].history.has_changes():
                setattr(target, index_attribute, blind_index(getattr(target, attribute), purpose))

    sa.event.listen(model, "before_insert", fill)
    sa.event.listen(model, "before_update", refill)
