"""A JSON-safe summary of one back reading, for the CLI (`registro decode`) and the bench."""

from __future__ import annotations

from datetime import date
from typing import Any

from capture.pipeline import read_back
from capture.result import BackReading, Symbol


def decode_summary(data: bytes, *, today: date | None = None, budget_ms: int = 2500) -> dict[str, Any]:
    """Read `data` and summarise: values only from check-digit-valid MRZ fields and decoded QRs.

    Keys: ok, qr_ok, mrz_ok, cic, identificador_ciudadano, ocr, expiry, birth_date, sex,
    model_hint, qr_url, qr_url_parts, symbols, reason, reasons, checks, ms, timings.
    """
    return summarize(read_back(data, today=today, budget_ms=budget_ms))


def summarize(reading: BackReading) -> dict[str, Any]:
    fields = reading.fields
    url = reading.url
    return {
        "ok": reading.ok,
        "qr_ok": reading.qr_ok,
        "mrz_ok": reading.mrz_ok,
        "cic": fields.cic if fields else None,
        "identificador_ciudadano": fields.identificador_ciudadano if fields else None,
        "ocr": fields.ocr if fields else None,
        "expiry": _iso(fields.expiry) if fields else None,
        "birth_date": _iso(fields.birth_date) if fields else None,
        "sex": fields.sex if fields else None,
        "model_hint": fields.model_hint.value if fields else None,
        "qr_url": url.text if url else None,
        "qr_url_parts": _url_parts(reading),
        "symbols": [_symbol(s) for s in reading.qr.symbols],
        "reason": reading.reason.value if reading.reason else None,
        "reasons": [r.value for r in reading.reasons],
        "checks": _checks(reading),
        "ms": round(reading.timings.total, 1),
        "timings": {
            "intake": round(reading.timings.intake, 1),
            "qr": round(reading.timings.qr, 1),
            "mrz": round(reading.timings.mrz, 1),
        },
    }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _url_parts(reading: BackReading) -> dict[str, str | None] | None:
    url = reading.url
    if url is None:
        return None
    return {"token": url.token, "date": _iso(url.date), "letter": url.letter, "code": url.code}


def _symbol(symbol: Symbol) -> dict[str, Any]:
    return {
        "kind": symbol.kind.value,
        "bounds": list(symbol.position.bounds()),
        "part_index": symbol.part_index,
        "bytes": symbol.byte_count,
    }


def _checks(reading: BackReading) -> dict[str, bool | None] | None:
    """Which check digits held: of the accepted reading, else of a rejected one."""
    fields = reading.fields
    checks = fields.checks if fields is not None else reading.mrz.rejected
    if checks is None:
        return None
    return {"cic": checks.cic, "birth_date": checks.birth_date, "expiry": checks.expiry, "composite": checks.composite}
