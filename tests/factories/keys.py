"""Data and index keys for tests that configure production (random, made for these tests only)."""

from __future__ import annotations

PRODUCTION_KEYS: dict[str, object] = {
    "data_keys": {"2026": "ZwkDzBPsubjdbnlHoAUMmq77pQW0TXbGDvno+HvFBzk="},
    "data_key_id": "2026",
    "index_key": "AcTTtblMgljel1tXCIQZeKbPU7jJVVNF4BwB4Fq3Adk=",
}
