import json
from pathlib import Path

from click.testing import CliRunner

from web.cli import main

REQUIRED_KEYS = {"file", "ok", "cic", "identificador_ciudadano", "ocr", "expiry", "qr_url", "reason", "ms"}
SPECIMEN_URL = "http://qr.ine.mx/126303106194403165147533/20170915/P/003660"


def test_decode_prints_one_json_line_per_file_and_exits_zero(specimens_dir: Path, tmp_path: Path) -> None:
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hola")
    files = [str(specimens_dir / "ine-specimen-back-model-gh.jpg"), str(not_an_image), str(tmp_path / "missing.jpg")]
    result = CliRunner().invoke(main, ["decode", "--json", *files], env={"REGISTRO_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0
    specimen, text, missing = (json.loads(line) for line in result.output.splitlines())
    assert all(set(line) >= REQUIRED_KEYS for line in (specimen, text, missing))
    assert specimen["qr_url"] == SPECIMEN_URL
    assert specimen["cic"] is None  # the sample's CIC check digit is wrong: a strict reader must refuse it
    assert (text["reason"], missing["reason"]) == ("not_an_image", "unreadable_file")


def test_specimen_writes_synthetic_backs_that_decode_to_their_printed_cic(tmp_path: Path) -> None:
    runner, env = CliRunner(), {"REGISTRO_DATA_DIR": str(tmp_path)}
    written = runner.invoke(main, ["specimen", str(tmp_path / "out"), "--count", "1", "--seed", "7"], env=env)
    assert written.exit_code == 0
    path, truth = written.output.strip().split(": ")
    decoded = json.loads(runner.invoke(main, ["decode", "--json", path], env=env).output)
    assert decoded["ok"] and f"cic={decoded['cic']}" == truth.split()[0]
