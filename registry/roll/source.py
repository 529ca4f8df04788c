"""Reading a Lista Nominal file: a path in, typed rows and typed rejections out, streamed (no database, no web).

Formats, told apart by their first bytes rather than by the file name: CSV (comma, tab or semicolon; UTF-8 with
or without BOM, otherwise Windows-1252/Latin-1), the same CSV compressed with gzip, and XLSX (first sheet).

Memory stays flat for CSV whatever the size: lines are read one at a time and capped at `MAX_LINE_CHARS` (a
longer physical line is rejected and its rest skipped, never held). XLSX is read with python-calamine, which
holds the decoded first sheet in memory (about 1 KB per row, so about 1 GB at Excel's limit of 1,048,576 rows);
files past `MAX_XLSX_UNCOMPRESSED` are refused whole, and big rolls belong in CSV.

Problems of one row are a `RowRejection` (line number and a reason naming the column, never the value); only
what makes the rest of the file unreadable is a `RollFileError`: unknown format, unusable header, a damaged gzip
stream, or a quoted field that never closes (it reaches the csv module's field limit, left at its default of
128 K characters because it is process-wide): the rows it swallowed cannot be told apart, and skipping on would
silently drop every citizen inside the open quote."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from python_calamine import CalamineError, CalamineWorkbook

from registry.roll.rows import FIELDS, REQUIRED, RollRow, RowRejection, RowValidator

MAX_LINE_CHARS = 10_000  # a roll line is ~150 characters; far longer is not a roll row
MAX_XLSX_UNCOMPRESSED = 1_500_000_000
_SNIFF_BYTES = 65_536
_DIGIT_WIDTHS = {"cic": 9, "ocr": 13, "identificador_ciudadano": 9}

ColumnMap = dict[str, str]
__all__ = ["ColumnMap", "RollFileError", "RollRow", "RollSource", "RowRejection", "open_roll", "parse_columns"]


class RollFileError(Exception):
    """The whole file is unusable; `message` is a Spanish sentence for the OPL admin."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _header_key(name: str) -> str:
    """Header names compare trimmed, case-insensitively and without accents: `Sección` is `seccion`."""
    decomposed = unicodedata.normalize("NFKD", name.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def parse_columns(spec: str) -> ColumnMap:
    """`clave_elector=CLAVE ELECTOR,estado=ENTIDAD`: our column name -> the file's header name."""
    mapping: ColumnMap = {}
    for item in spec.split(","):
        ours, sep, theirs = item.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or not ours or not theirs:
            raise RollFileError("--columns: cada columna se escribe nombre=ENCABEZADO, sin nombres vacíos.")
        if ours not in FIELDS:
            raise RollFileError(f"--columns: «{ours}» no es una columna del padrón; son: {', '.join(FIELDS)}.")
        if ours in mapping or _header_key(theirs) in {_header_key(v) for v in mapping.values()}:
            raise RollFileError(f"--columns: la columna «{ours}» o su encabezado aparece dos veces.")
        mapping[ours] = theirs
    return mapping


def _resolve_columns(header: list[str], columns: ColumnMap | None) -> dict[str, int]:
    """Our column name -> index in the file's rows; raises RollFileError for missing or repeated columns."""
    wanted = {ours: _header_key((columns or {}).get(ours, ours)) for ours in FIELDS}
    keys = [_header_key(cell) for cell in header]
    found: dict[str, int] = {}
    for ours, key in wanted.items():
        hits = [index for index, cell in enumerate(keys) if cell == key]
        if len(hits) > 1:
            raise RollFileError(f"El encabezado tiene dos columnas «{key}»; no se sabe cuál es {ours}.")
        if hits:
            found[ours] = hits[0]
    missing = [f"{ours} ({wanted[ours]})" if wanted[ours] != ours else ours for ours in REQUIRED if ours not in found]
    if missing:
        raise RollFileError(f"Faltan columnas obligatorias en el encabezado (línea 1): {', '.join(missing)}.")
    return found


class RollSource:
    """An open roll file. Iterating streams its rows; `bytes_read / bytes_total` is the progress."""

    def __init__(self, path: Path, raw: IO[bytes], format_label: str,
                 rows: Callable[[RollSource], Iterator[RollRow | RowRejection]]) -> None:
        self.path = path
        self.format_label = format_label
        self.bytes_total = path.stat().st_size
        self._raw = raw
        self._rows = rows
        self._xlsx_fraction: float | None = None  # XLSX: the sheet is decoded at once; progress goes by rows

    @property
    def bytes_read(self) -> int:
        if self._xlsx_fraction is not None:
            return int(self.bytes_total * self._xlsx_fraction)
        return min(self._raw.tell(), self.bytes_total) if not self._raw.closed else self.bytes_total

    def __enter__(self) -> RollSource:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._raw.close()

    def __iter__(self) -> Iterator[RollRow | RowRejection]:
        return self._rows(self)


def open_roll(path: Path, *, columns: ColumnMap | None = None) -> RollSource:
    """Opens and checks the header; raises RollFileError for an unknown format or an unusable header."""
    try:
        raw: IO[bytes] = open(path, "rb", buffering=0)  # noqa: SIM115 - RollSource closes it
    except OSError as error:
        raise RollFileError("No se pudo abrir el archivo del padrón.") from error
    try:
        magic = raw.read(4)
        raw.seek(0)
        if magic[:2] == b"\x1f\x8b":
            unzipped: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
            return _open_csv(path, raw, unzipped, columns, compressed=True)
        if magic == b"PK\x03\x04" or path.suffix.lower() == ".xlsx":
            return _open_xlsx(path, raw, columns)
        return _open_csv(path, raw, raw, columns, compressed=False)
    except BaseException:
        raw.close()
        raise


# --- CSV -------------------------------------------------------------------------------------------------------


def _sniff_encoding(stream: IO[bytes]) -> tuple[str, str]:
    """(codec, label). Strict UTF-8 on the first chunk (a character cut at its end is fine), else Latin-1."""
    try:
        head = stream.read(_SNIFF_BYTES)
        stream.seek(0)
    except (OSError, EOFError, zlib.error) as error:
        raise RollFileError("El archivo comprimido está dañado o no es gzip.") from error
    if not head:
        raise RollFileError("El archivo está vacío.")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < _SNIFF_BYTES)
    except UnicodeDecodeError:
        return "cp1252", "Latin-1"
    return "utf-8-sig", "UTF-8 con BOM" if head.startswith(codecs.BOM_UTF8) else "UTF-8"


_DELIMITERS = {",": "coma", "\t": "tabulador", ";": "punto y coma"}


def _open_csv(path: Path, raw: IO[bytes], stream: IO[bytes], columns: ColumnMap | None, *,
              compressed: bool) -> RollSource:
    codec, encoding_label = _sniff_encoding(stream)
    # Undecodable bytes become lone surrogates, which the row check refuses with a clear reason.
    text = io.TextIOWrapper(stream, encoding=codec, errors="surrogateescape", newline="")
    try:
        first = text.readline(MAX_LINE_CHARS)
    except (OSError, EOFError, zlib.error) as error:
        raise RollFileError("El archivo comprimido está dañado o no es gzip.") from error
    if not first.strip() or _overlong(first):
        raise RollFileError("La línea 1 debe ser el encabezado con los nombres de las columnas.")
    delimiter = max(_DELIMITERS, key=first.count)
    header = next(csv.reader([first], delimiter=delimiter), [])
    found = _resolve_columns(header, columns)
    validator = RowValidator(found, len(header))
    kind = "CSV comprimido (gzip, " if compressed else "CSV ("
    label = f"{kind}{_DELIMITERS[delimiter]}, {encoding_label})"

    def rows(source: RollSource) -> Iterator[RollRow | RowRejection]:
        return _csv_rows(text, delimiter, validator)

    return RollSource(path, raw, label, rows)


def _csv_rows(text: io.TextIOWrapper, delimiter: str,
              validator: RowValidator) -> Iterator[RollRow | RowRejection]:
    """Physical lines, each read capped at MAX_LINE_CHARS; an unquoted line tries the fast path, anything else
    (quotes, which may span lines, or a fast-path miss) goes through csv and the careful checks."""
    readline, fast, check, width = text.readline, validator.fast_matcher(delimiter), validator.row, validator.width
    number = 1  # line 1 was the header
    try:
        while line := readline(MAX_LINE_CHARS):
            number += 1
            if '"' not in line:
                if row := fast(number, line):
                    yield row
                    continue
                if _overlong(line):
                    _skip_rest(readline)
                    yield RowRejection(number, f"la línea tiene más de {MAX_LINE_CHARS} caracteres")
                    continue
                cells = line.rstrip("\r\n").split(delimiter)
                start = number
            else:
                start, cells, overlong, number = _quoted_record(line, readline, number, delimiter)
                if overlong:
                    yield RowRejection(start, f"la línea tiene más de {MAX_LINE_CHARS} caracteres")
                    continue
            if len(cells) != width:
                if any(cell.strip() for cell in cells):  # blank lines are not data
                    yield RowRejection(start, f"la fila tiene {len(cells)} campos y el encabezado {width}")
            elif (result := check(start, cells)) is not None:
                yield result
    except (OSError, EOFError, zlib.error) as error:
        raise RollFileError(f"El archivo comprimido está dañado después de la línea {number - 1}.") from error


def _overlong(line: str) -> bool:
    return len(line) >= MAX_LINE_CHARS and not line.endswith(("\n", "\r"))


def _skip_rest(readline: Callable[[int], str]) -> None:
    """Reads past the rest of an overlong line without holding it."""
    while (rest := readline(MAX_LINE_CHARS)) and not rest.endswith(("\n", "\r")):
        pass


def _quoted_record(line: str, readline: Callable[[int], str], number: int,
                   delimiter: str) -> tuple[int, list[str], bool, int]:
    """(first line, cells, whether a line was overlong, last line) of the record starting at `line`: csv takes as
    many more lines as its quotes need. A quote that never closes ends the file's usefulness (see the module doc)."""
    overlong = [False]

    def more() -> Iterator[str]:
        while next_line := readline(MAX_LINE_CHARS):
            if _overlong(next_line):
                overlong[0] = True
                _skip_rest(readline)
                next_line = "\n"
            yield next_line

    if _overlong(line):
        _skip_rest(readline)
        return number, [], True, number
    reader = csv.reader(chain([line], more()), delimiter=delimiter)
    try:
        cells = next(reader, [])
    except csv.Error as error:
        raise RollFileError(f"Línea {number}: un campo entre comillas no se cierra; revise las comillas del "
                            "archivo.") from error
    return number, cells, overlong[0], number + max(reader.line_num, 1) - 1


# --- XLSX ------------------------------------------------------------------------------------------------------


def _open_xlsx(path: Path, raw: IO[bytes], columns: ColumnMap | None) -> RollSource:
    try:
        with zipfile.ZipFile(raw) as archive:
            names = archive.infolist()
            if not any(info.filename == "[Content_Types].xml" for info in names):
                raise RollFileError("El archivo no es CSV, CSV comprimido (gzip) ni XLSX.")
            if sum(info.file_size for info in names) > MAX_XLSX_UNCOMPRESSED:
                raise RollFileError("El archivo XLSX es demasiado grande; expórtelo como CSV (o CSV con gzip).")
        raw.seek(0)
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
        workbook.close()  # the sheet is decoded already
    except (zipfile.BadZipFile, CalamineError, OSError, ValueError) as error:
        raise RollFileError("El archivo XLSX está dañado o no se puede leer.") from error
    cells = sheet.iter_rows()
    header = [_cell_text(value) for value in next(cells, [])]
    if not any(header):
        raise RollFileError("La primera fila de la hoja debe ser el encabezado con los nombres de las columnas.")
    found = _resolve_columns(header, columns)
    validator = RowValidator(found, len(header))
    first_line = (sheet.start or (0, 0))[0] + 1
    padded = {found[name]: width for name, width in _DIGIT_WIDTHS.items() if name in found}

    def rows(source: RollSource) -> Iterator[RollRow | RowRejection]:
        return _xlsx_rows(source, cells, first_line, max(sheet.height, 1), validator, padded)

    return RollSource(path, raw, "XLSX", rows)


def _xlsx_rows(source: RollSource, cells: Iterator[list[Any]], first_line: int, height: int,
               validator: RowValidator, padded: dict[int, int]) -> Iterator[RollRow | RowRejection]:
    source._xlsx_fraction = 1 / height
    for offset, values in enumerate(cells, start=1):
        texts = [_cell_text(value, padded.get(index, 0)) for index, value in enumerate(values)]
        texts += [""] * (validator.width - len(texts))
        result = validator.row(first_line + offset, texts[:validator.width])
        source._xlsx_fraction = (offset + 1) / height
        if result is not None:
            yield result
    source._xlsx_fraction = 1.0


def _cell_text(value: object, width: int = 0) -> str:
    """A cell as the CSV would carry it. Numbers lose their leading zeros in Excel: an identifier stored as the
    number 12345678.0 is the CIC 012345678 again; whole-number floats are integers (26.0 -> "26")."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).zfill(width) if value >= 0 else str(value)
    return value if isinstance(value, str) else str(value)
