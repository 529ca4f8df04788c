"""The roll file reader: formats, headers, one rejection per bad row (never carrying the value), streaming."""

from __future__ import annotations

import dataclasses
import gzip
import tempfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.roll.rows import RowValidator
from registry.roll.source import (
    MAX_LINE_CHARS,
    RollFileError,
    RollRow,
    RowRejection,
    _resolve_columns,
    open_roll,
    parse_columns,
)
from registry.states import BajaReason, RollStatus

HEADER = ["clave_elector", "cic", "ocr", "identificador_ciudadano", "nombre", "apellido_paterno",
          "apellido_materno", "estado", "distrito", "municipio", "seccion", "situacion"]
GOOD = ["GOMZAN80010126H100", "012345678", "0123456789012", "001234567", "José María", "Gómez", "Peña",
        "26", "3", "30", "1234", "vigente"]
EXPECTED = RollRow(line=2, clave_elector="GOMZAN80010126H100", cic="012345678", ocr="0123456789012",
                   identificador_ciudadano="001234567", nombre="José María", apellido_paterno="Gómez",
                   apellido_materno="Peña", state_code=26, district=3, municipality=30, seccion=1234,
                   status=RollStatus.VIGENTE, baja_reason=None)


def good(**changes: str) -> list[str]:
    row = dict(zip(HEADER, GOOD, strict=True))
    row.update(changes)
    return list(row.values())


def write_csv(path: Path, rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8",
              header: list[str] = HEADER) -> Path:
    lines = [delimiter.join(header)] + [delimiter.join(row) for row in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def read(path: Path, **kwargs: object) -> list[RollRow | RowRejection]:
    with open_roll(path, **kwargs) as source:  # type: ignore[arg-type]
        return list(source)


# --- formats ---------------------------------------------------------------------------------------------------


def test_comma_utf8_row_is_typed(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "roll.csv", [GOOD])
    with open_roll(path) as source:
        assert source.format_label == "CSV (coma, UTF-8)"
        assert list(source) == [EXPECTED]


def test_tab_delimited(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "roll.txt", [GOOD], delimiter="\t")
    with open_roll(path) as source:
        assert source.format_label == "CSV (tabulador, UTF-8)"
        assert list(source) == [EXPECTED]


def test_utf8_bom_is_stripped_from_the_first_header(tmp_path: Path) -> None:
    path = tmp_path / "roll.csv"
    write_csv(path, [GOOD])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    with open_roll(path) as source:
        assert source.format_label == "CSV (coma, UTF-8 con BOM)"
        assert list(source) == [EXPECTED]


def test_latin1_keeps_accents_and_enie(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "roll.csv", [good(nombre="MARÍA ÑUÑEZ", apellido_materno="Peña")], encoding="cp1252")
    with open_roll(path) as source:
        assert source.format_label == "CSV (coma, Latin-1)"
        (row,) = list(source)
    assert isinstance(row, RollRow)
    assert (row.nombre, row.apellido_materno) == ("MARÍA ÑUÑEZ", "Peña")


def test_utf8_character_cut_at_the_sniffed_chunk_end_is_still_utf8(tmp_path: Path) -> None:
    # The encoding is guessed from the first 64 KB: a padding column places the two bytes of an "É" across it.
    head = (",".join([*HEADER, "notas"]) + "\n").encode()
    filler = (",".join(GOOD) + ",\n").encode()
    body = head + filler * ((65_535 - len(head)) // len(filler) - 2)
    before_name = len((",".join(GOOD[:4]) + ",").encode())
    pad = 65_535 - len(body) - len(filler) - before_name
    data = body + filler[:-1] + b"x" * pad + b"\n" + (",".join(good(nombre="É")) + ",\n").encode()
    assert data[65_535:65_537] == "É".encode()  # the cut really is inside the character
    path = tmp_path / "roll.csv"
    path.write_bytes(data)
    with open_roll(path) as source:
        assert source.format_label == "CSV (coma, UTF-8)"
        rows = list(source)
    assert all(isinstance(row, RollRow) for row in rows)
    assert rows[-1].nombre == "É"  # type: ignore[union-attr]


def test_gzip_detected_by_its_magic_bytes_not_its_name(tmp_path: Path) -> None:
    plain = write_csv(tmp_path / "roll.csv", [GOOD], delimiter="\t")
    packed = tmp_path / "roll.dat"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    with open_roll(packed) as source:
        assert source.format_label == "CSV comprimido (gzip, tabulador, UTF-8)"
        assert list(source) == [EXPECTED]
        assert source.bytes_read == source.bytes_total == packed.stat().st_size


def test_xlsx_numbers_get_their_leading_zeros_back(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(["GOMZAN80010126H100", 12345678, 123456789012.0, 1234567, "José María", "Gómez", "Peña",
                  26, 3.0, 30, 1234, "Vigente"])
    sheet.append(["GOMZAN80010126H101", None, None, None, "Ana", None, None, 26, 3, 30, 1234, "baja_defuncion"])
    path = tmp_path / "roll.xlsx"
    workbook.save(path)
    with open_roll(path) as source:
        assert source.format_label == "XLSX"
        rows = list(source)
        assert source.bytes_read == source.bytes_total
    assert rows[0] == EXPECTED
    assert rows[1] == dataclasses.replace(EXPECTED, line=3, clave_elector="GOMZAN80010126H101", cic=None, ocr=None,
                                          identificador_ciudadano=None, nombre="Ana", apellido_paterno="",
                                          apellido_materno="", status=RollStatus.BAJA,
                                          baja_reason=BajaReason.DEFUNCION)


def test_xlsx_cell_rejections_name_the_excel_row(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(good(cic="12.5"))
    sheet.append([*GOOD[:7], 40, *GOOD[8:]])
    path = tmp_path / "roll.xlsx"
    workbook.save(path)
    assert read(path) == [RowRejection(2, "cic: debe tener exactamente 9 dígitos"),
                          RowRejection(3, "estado: debe ser un número entero de 1 a 32")]


@pytest.mark.parametrize(("name", "content"), [("roll.xlsx", b"not a zip at all"), ("roll.gz", b"\x1f\x8bgarbage"),
                                               ("roll.csv", b""), ("roll.zip", b"PK\x03\x04garbage")])
def test_unreadable_files_are_a_file_error(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RollFileError) as caught:
        read(path)
    assert caught.value.message == str(caught.value)


# --- header and --columns --------------------------------------------------------------------------------------


def test_header_names_ignore_case_accents_spaces_order_and_extra_columns(tmp_path: Path) -> None:
    header = [" Observaciones ", *(h.upper() for h in reversed(HEADER))]
    header[header.index("SECCION")] = "Sección"
    path = write_csv(tmp_path / "roll.csv", [["algo", *reversed(GOOD)]], header=header)
    assert read(path) == [EXPECTED]


def test_optional_columns_may_be_absent(tmp_path: Path) -> None:
    kept = [h for h in HEADER if h not in {"cic", "ocr", "identificador_ciudadano", "apellido_materno"}]
    row = [value for h, value in zip(HEADER, GOOD, strict=True) if h in kept]
    path = write_csv(tmp_path / "roll.csv", [row], header=kept)
    assert read(path) == [dataclasses.replace(EXPECTED, cic=None, ocr=None, identificador_ciudadano=None,
                                              apellido_materno="")]


def test_missing_required_column_is_named(tmp_path: Path) -> None:
    header = [h for h in HEADER if h != "seccion"]
    path = write_csv(tmp_path / "roll.csv", [], header=header)
    with pytest.raises(RollFileError, match="seccion"):
        open_roll(path)


def test_a_repeated_header_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "roll.csv", [], header=[*HEADER, "CIC"])
    with pytest.raises(RollFileError, match="cic"):
        open_roll(path)


def test_columns_map_other_header_names(tmp_path: Path) -> None:
    ine = {"clave_elector": "CLAVE_ELECTOR", "estado": "ENTIDAD", "distrito": "DISTRITO FEDERAL", "cic": "CIC"}
    columns = parse_columns(",".join(f"{ours}={theirs}" for ours, theirs in ine.items()))
    assert columns == ine
    header = [ine.get(h, h) for h in HEADER]
    path = write_csv(tmp_path / "roll.csv", [GOOD], header=header)
    assert read(path, columns=columns) == [EXPECTED]
    with pytest.raises(RollFileError, match=r"estado \(entidad\)"):
        open_roll(write_csv(tmp_path / "other.csv", [GOOD], header=HEADER), columns=columns)


@pytest.mark.parametrize("spec", ["telefono=TEL", "cic=", "=CIC", "cic", "cic=A,cic=B", "cic=A,ocr=a", ""])
def test_bad_columns_spec(spec: str) -> None:
    with pytest.raises(RollFileError):
        parse_columns(spec)


# --- rows ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("situacion", "status", "reason"), [
    (" VIGENTE ", RollStatus.VIGENTE, None),
    ("padron_sin_lista", RollStatus.PADRON_SIN_LISTA, None),
    ("Baja_Defuncion", RollStatus.BAJA, BajaReason.DEFUNCION),
    ("baja_suspension_derechos", RollStatus.BAJA, BajaReason.SUSPENSION_DERECHOS),
    ("baja_perdida_vigencia", RollStatus.BAJA, BajaReason.PERDIDA_VIGENCIA),
])
def test_situacion(tmp_path: Path, situacion: str, status: RollStatus, reason: BajaReason | None) -> None:
    (row,) = read(write_csv(tmp_path / "roll.csv", [good(situacion=situacion)]))
    assert isinstance(row, RollRow)
    assert (row.status, row.baja_reason) == (status, reason)


def test_lenient_where_ine_is(tmp_path: Path) -> None:
    """Lower case and spaces are normalised; X (non-binary), born-abroad state 87 and an impossible birth date are
    INE's data and stay in the roll; names keep their case and inner spaces."""
    rows = [good(clave_elector=" gomzan80010126h100 "), good(clave_elector="GOMZAN80010187X100"),
            good(clave_elector="GOMZAN99023126M100", nombre="  Ana  Luisa ", estado=" 07", seccion="0012")]
    result = read(write_csv(tmp_path / "roll.csv", rows))
    assert [r.clave_elector for r in result] == ["GOMZAN80010126H100", "GOMZAN80010187X100",  # type: ignore[union-attr]
                                                 "GOMZAN99023126M100"]
    assert isinstance(result[2], RollRow)
    assert (result[2].nombre, result[2].state_code, result[2].seccion) == ("Ana  Luisa", 7, 12)


LONG_NUMBER = "9" * 5000
REJECTIONS = [
    ({"clave_elector": "GOMZAN80010126H10"}, "clave_elector: no tiene el formato de 18 caracteres"),
    ({"clave_elector": "GOMZAN80010133H100"}, "clave_elector: no tiene el formato de 18 caracteres"),
    ({"clave_elector": "GOMZ4N80010126H100"}, "clave_elector: no tiene el formato de 18 caracteres"),
    ({"cic": "12345678"}, "cic: debe tener exactamente 9 dígitos"),
    ({"cic": "12345678X"}, "cic: debe tener exactamente 9 dígitos"),
    ({"ocr": "123456789012"}, "ocr: debe tener exactamente 13 dígitos"),
    ({"identificador_ciudadano": "١٢٣٤٥٦٧٨٩"}, "identificador_ciudadano: debe tener exactamente 9 dígitos"),
    ({"estado": "33"}, "estado: debe ser un número entero de 1 a 32"),
    ({"estado": "0"}, "estado: debe ser un número entero de 1 a 32"),
    ({"estado": "-1"}, "estado: debe ser un número entero de 1 a 32"),
    ({"distrito": "301"}, "distrito: debe ser un número entero de 1 a 300"),
    ({"distrito": "1e2"}, "distrito: debe ser un número entero de 1 a 300"),
    ({"municipio": "1000"}, "municipio: debe ser un número entero de 1 a 999"),
    ({"municipio": "٣"}, "municipio: debe ser un número entero de 1 a 999"),
    ({"seccion": "10000"}, "seccion: debe ser un número entero de 1 a 9999"),
    ({"seccion": "1_000"}, "seccion: debe ser un número entero de 1 a 9999"),
    ({"seccion": LONG_NUMBER}, "seccion: debe ser un número entero de 1 a 9999"),
    ({"situacion": "activo"}, "situacion: debe ser vigente, padron_sin_lista, baja_defuncion"),
    ({"situacion": ""}, "situacion: debe ser vigente, padron_sin_lista, baja_defuncion"),
    ({"nombre": "  "}, "nombre: está vacío"),
    ({"apellido_paterno": "Ñ" * 121}, "apellido_paterno: tiene más de 120 caracteres"),
    ({"nombre": "Ana\x00Luisa"}, "nombre: contiene caracteres de control"),
    ({"apellido_materno": "Pe\u202ena"}, "apellido_materno: contiene caracteres de control"),
]


@pytest.mark.parametrize(("changes", "reason"), REJECTIONS)
def test_rejection_names_the_column_never_the_value(tmp_path: Path, changes: dict[str, str], reason: str) -> None:
    rows = [good(clave_elector="GOMZAN80010126H001"), good(**changes), good(clave_elector="GOMZAN80010126H003")]
    result = read(write_csv(tmp_path / "roll.csv", rows))
    assert [type(r) for r in result] == [RollRow, RowRejection, RollRow]
    assert [r.line for r in result] == [2, 3, 4]
    rejection = result[1]
    assert isinstance(rejection, RowRejection)
    assert rejection.reason.startswith(reason)
    for value in changes.values():
        if value.strip():
            assert value.strip() not in rejection.reason


def test_wrong_field_count(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "roll.csv", [GOOD[:-1], [*GOOD, "extra"]])
    assert read(path) == [RowRejection(2, "la fila tiene 11 campos y el encabezado 12"),
                          RowRejection(3, "la fila tiene 13 campos y el encabezado 12")]


def test_nul_byte_rejects_its_line_only(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "roll.csv", [good(nombre="A\x00"), good(cic="\x00" * 9), GOOD])
    result = read(path)
    assert [r.reason for r in result[:2]] == [  # type: ignore[union-attr]
        "nombre: contiene caracteres de control, invisibles o saltos de línea",
        "cic: contiene caracteres de control, invisibles o saltos de línea"]
    assert result[2] == dataclasses.replace(EXPECTED, line=4)


def test_bytes_that_are_not_utf8_after_the_sniffed_chunk_reject_their_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "roll.csv", [GOOD] * 1000)
    path.write_bytes(path.read_bytes() + ",".join(GOOD[:-1]).encode() + b",vigente\xf1\n")
    result = read(path)
    assert len(result) == 1001
    assert result[-1] == RowRejection(1002, "situacion: contiene bytes que no son texto válido en la codificación "
                                            "del archivo")


def test_overlong_line_is_rejected_and_reading_goes_on(tmp_path: Path) -> None:
    huge = good(nombre="A" * (MAX_LINE_CHARS * 3))
    quoted_huge = good(nombre='"' + "B" * (MAX_LINE_CHARS * 2) + '"')
    path = write_csv(tmp_path / "roll.csv", [huge, quoted_huge, GOOD])
    assert read(path) == [RowRejection(2, f"la línea tiene más de {MAX_LINE_CHARS} caracteres"),
                          RowRejection(3, f"la línea tiene más de {MAX_LINE_CHARS} caracteres"),
                          dataclasses.replace(EXPECTED, line=4)]


def test_quote_that_never_closes_stops_the_file(tmp_path: Path) -> None:
    """Past the csv field limit the swallowed rows cannot be recovered: the admin fixes the file rather than
    importing a roll silently missing every citizen inside the open quote."""
    rows = [good(nombre='"Ana')] + [good(clave_elector=f"GOMZAN80010126H{n % 1000:03d}") for n in range(2000)]
    with pytest.raises(RollFileError, match="Línea 2: un campo entre comillas no se cierra"):
        read(write_csv(tmp_path / "roll.csv", rows))


def test_line_numbers_count_quoted_newlines_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "roll.csv"
    header = [*HEADER, "notas"]
    text = (",".join(header) + "\n\n" + ",".join(GOOD) + ',"una\nnota\nlarga"\n'
            + "\r\n" + ",".join(good(cic="1")) + ",\n" + ",".join(good(nombre='"Ana\nLuisa"')) + ",\n"
            + ",,,,,,,,,,,,\n" + ",".join(GOOD) + ",\n")
    path.write_bytes(text.encode())
    assert read(path) == [
        dataclasses.replace(EXPECTED, line=3),
        RowRejection(7, "cic: debe tener exactamente 9 dígitos"),
        RowRejection(8, "nombre: contiene caracteres de control, invisibles o saltos de línea"),
        dataclasses.replace(EXPECTED, line=11),
    ]


def test_rows_are_real_frozen_roll_rows(tmp_path: Path) -> None:
    (row,) = read(write_csv(tmp_path / "roll.csv", [GOOD]))
    assert type(row) is RollRow
    assert hash(row) == hash(EXPECTED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.nombre = "otro"  # type: ignore[misc]


def test_bytes_read_advances_to_bytes_total(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "roll.csv", [good(clave_elector=f"GOMZAN80010126H{n % 1000:03d}")
                                             for n in range(20_000)])
    seen = []
    with open_roll(path) as source:
        assert source.bytes_total == path.stat().st_size
        for _row in source:
            seen.append(source.bytes_read)
    assert seen == sorted(seen)
    assert seen[0] < source.bytes_total // 2
    assert seen[-1] == source.bytes_total


# --- no input line crashes the reader --------------------------------------------------------------------------

_LINE_PIECES = st.one_of(st.text(max_size=40), st.sampled_from([",", "\t", '"', "\n", "\r", "\x00", "\ud800", *GOOD]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.lists(_LINE_PIECES, max_size=20).map("".join), min_size=1, max_size=4))
def test_no_line_crashes_the_reader(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "roll.csv"
        body = "\n".join(lines).encode("utf-8", errors="surrogatepass")
        path.write_bytes(",".join(HEADER).encode() + b"\n" + body)
        result = read(path)
        assert all(isinstance(r, RollRow | RowRejection) for r in result)
        assert all(r.line >= 2 for r in result)


_CELL = st.one_of(st.sampled_from(["", " ", "07", "0", "ABCDEF", "bajA_defuncion", "١", "Ñ", "\t"]),
                  st.text(alphabet="0123456789 AZaz\u00a0é-", max_size=14))


@settings(max_examples=300, deadline=None)
@given(changes=st.dictionaries(st.sampled_from(HEADER), _CELL, max_size=4))
def test_fast_path_agrees_with_the_careful_path(changes: dict[str, str]) -> None:
    validator = RowValidator(_resolve_columns(HEADER, None), len(HEADER))
    cells = good(**changes)
    fast = validator.fast_matcher(",")(5, ",".join(cells) + "\r\n")
    if fast is not None:
        assert validator.row(5, cells) == fast
