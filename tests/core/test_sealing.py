"""Sealing personal values (AES-GCM) and their blind indexes (HMAC), without a database."""

from __future__ import annotations

import base64
import os

import pytest

from core.sealing import BLIND_INDEX_CHARS, Sealer, SealingError, decode_key, sealer_from_settings
from core.settings import Environment, Settings

KEY_A, KEY_B, INDEX_KEY = os.urandom(32), os.urandom(32), os.urandom(32)


def _sealer(current: str = "a", *, previous_index: tuple[bytes, ...] = ()) -> Sealer:
    return Sealer(keys={"a": KEY_A, "b": KEY_B}, current_key_id=current, index_key=INDEX_KEY,
                  previous_index_keys=previous_index)


def test_a_value_seals_and_opens_under_its_column() -> None:
    sealer = _sealer()
    sealed = sealer.seal("GOMLRS90010126H100", aad="support.clave_elector")
    assert "GOMLRS" not in sealed
    assert sealer.open(sealed, aad="support.clave_elector") == "GOMLRS90010126H100"
    # a random nonce each time: equal values do not give equal ciphertexts (the blind index is for equality)
    assert sealer.seal("GOMLRS90010126H100", aad="support.clave_elector") != sealed


def test_a_value_moved_to_another_column_does_not_open() -> None:
    sealer = _sealer()
    sealed = sealer.seal("123456789", aad="support.cic")
    with pytest.raises(SealingError):
        sealer.open(sealed, aad="credentialreading.cic")


def test_a_tampered_value_does_not_open() -> None:
    sealer = _sealer()
    raw = bytearray(base64.urlsafe_b64decode(sealer.seal("123456789", aad="support.cic") + "=="))
    raw[-1] ^= 1
    with pytest.raises(SealingError):
        sealer.open(base64.urlsafe_b64encode(bytes(raw)).decode(), aad="support.cic")
    with pytest.raises(SealingError):
        sealer.open("123456789", aad="support.cic")  # plaintext left behind is refused, not returned


def test_the_key_id_travels_with_the_value_so_old_keys_still_open() -> None:
    old = _sealer("a").seal("Rosa", aad="paperform.nombre")
    rotated = _sealer("b")
    assert rotated.key_id_of(old) == "a"
    assert rotated.open(old, aad="paperform.nombre") == "Rosa"
    assert rotated.key_id_of(rotated.seal("Rosa", aad="paperform.nombre")) == "b"
    without_a = Sealer(keys={"b": KEY_B}, current_key_id="b", index_key=INDEX_KEY)
    with pytest.raises(SealingError):
        without_a.open(old, aad="paperform.nombre")


def test_blind_indexes_are_keyed_normalised_and_separated_by_purpose() -> None:
    sealer = _sealer()
    index = sealer.blind_index("gomlrs90010126h100 ", "clave_elector")
    assert index == sealer.blind_index("GOMLRS90010126H100", "clave_elector")
    assert len(index) == BLIND_INDEX_CHARS
    assert index != sealer.blind_index("GOMLRS90010126H100", "cic")
    other_key = Sealer(keys={"a": KEY_A}, current_key_id="a", index_key=os.urandom(32))
    assert other_key.blind_index("GOMLRS90010126H100", "clave_elector") != index
    # the QR's token is opaque: its case is part of it
    assert sealer.blind_index("https://qr.ine.mx/AbC", "qr") != sealer.blind_index("https://qr.ine.mx/ABC", "qr")


def test_during_an_index_rotation_lookups_try_the_old_key_too() -> None:
    old_key = os.urandom(32)
    rotating = _sealer(previous_index=(old_key,))
    before = Sealer(keys={"a": KEY_A}, current_key_id="a", index_key=old_key)
    assert rotating.blind_indexes("123456789", "cic") == [rotating.blind_index("123456789", "cic"),
                                                          before.blind_index("123456789", "cic")]


def test_in_development_the_keys_derive_from_the_secret() -> None:
    one = sealer_from_settings(Settings(env=Environment.DEVELOPMENT, secret_key="s" * 40))
    again = sealer_from_settings(Settings(env=Environment.DEVELOPMENT, secret_key="s" * 40))
    other = sealer_from_settings(Settings(env=Environment.DEVELOPMENT, secret_key="t" * 40))
    sealed = one.seal("Rosa", aad="paperform.nombre")
    assert again.open(sealed, aad="paperform.nombre") == "Rosa"
    assert one.blind_index("Rosa", "email") == again.blind_index("Rosa", "email")
    with pytest.raises(SealingError):
        other.open(sealed, aad="paperform.nombre")


def test_the_test_environment_shares_its_keys_whatever_the_secret() -> None:
    suite = sealer_from_settings(Settings(env=Environment.TEST, secret_key="s" * 40))
    command_line = sealer_from_settings(Settings(env=Environment.TEST, secret_key="t" * 40))
    assert command_line.open(suite.seal("Rosa", aad="paperform.nombre"), aad="paperform.nombre") == "Rosa"
    development = sealer_from_settings(Settings(env=Environment.DEVELOPMENT, secret_key="s" * 40))
    assert development.index_key != suite.index_key


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


PRODUCTION = {"env": Environment.PRODUCTION, "secret_key": "vN3q-8hKf_Zx2LpQw7RtY1uMc9EoBj4sDg6HiA0lVn5",
              "database_url": "postgresql://db/registro"}


def test_production_requires_its_own_random_keys() -> None:
    with pytest.raises(ValueError, match="REGISTRO_DATA_KEYS"):
        Settings(**PRODUCTION)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not random") as refused:
        Settings(**PRODUCTION, data_keys={"2026": _b64(b"0" * 32)}, data_key_id="2026",  # type: ignore[arg-type]
                 index_key=_b64(os.urandom(32)))
    assert _b64(b"0" * 32) not in str(refused.value)
    with pytest.raises(ValueError, match="32 bytes"):
        Settings(**PRODUCTION, data_keys={"2026": _b64(os.urandom(16))}, data_key_id="2026",  # type: ignore[arg-type]
                 index_key=_b64(os.urandom(32)))
    settings = Settings(**PRODUCTION, data_keys={"2026": _b64(KEY_A)}, data_key_id="2026",  # type: ignore[arg-type]
                        index_key=_b64(INDEX_KEY))
    sealer = sealer_from_settings(settings)
    assert sealer.current_key_id == "2026" and sealer.index_key == INDEX_KEY
    assert decode_key(_b64(KEY_A)) == KEY_A
