import json
from datetime import date
from pathlib import Path

import pytest

from capture.specimens import Condition, make_sample
from capture.summary import decode_summary

SPECIMENS = Path(__file__).resolve().parents[2] / ".." / "shared" / "specimens"
KEYS = {"ok", "cic", "identificador_ciudadano", "ocr", "expiry", "qr_url", "reason", "ms"}


def test_summary_of_a_good_photo() -> None:
    sample = make_sample(77, Condition.NOMINAL, 0, "H")
    identity = sample.identity
    summary = decode_summary(sample.data, today=date(identity.expiry_year, 1, 1))
    assert json.loads(json.dumps(summary)) == summary
    assert summary.keys() >= KEYS
    assert summary["ok"] is True
    assert summary["cic"] == identity.cic
    assert summary["identificador_ciudadano"] == identity.identificador_ciudadano
    assert summary["ocr"] is None
    assert summary["expiry"] == f"{identity.expiry_year}-12-31"
    assert summary["qr_url"] == identity.qr_url
    assert summary["qr_url_parts"]["date"] is not None
    assert summary["reason"] is None and summary["reasons"] == []
    assert summary["checks"] == {"cic": True, "birth_date": True, "expiry": True, "composite": True}
    assert summary["ms"] > 0


def test_summary_of_bytes_that_are_no_photo() -> None:
    summary = decode_summary(b"%PDF-1.7 not a photo")
    assert json.loads(json.dumps(summary)) == summary
    assert summary["ok"] is False
    assert summary["reason"] == "unsupported_format"
    assert summary["cic"] is None and summary["qr_url"] is None and summary["checks"] is None


def test_summary_of_the_specimen_withholds_its_cic() -> None:
    path = SPECIMENS / "ine-specimen-back-model-gh.jpg"
    if not path.is_file():
        pytest.skip("shared specimens not present")
    summary = decode_summary(path.read_bytes(), today=date(2020, 1, 1))
    assert json.loads(json.dumps(summary)) == summary
    assert summary["cic"] is None
    assert summary["qr_url"] == "http://qr.ine.mx/126303106194403165147533/20170915/P/003660"
    assert summary["qr_ok"] is True and summary["ok"] is False
    assert "mrz_check_failed" in summary["reasons"]
    assert summary["checks"]["cic"] is False
