"""One roll row's cells -> a typed RollRow or a RowRejection (pure; `registry.roll.source` reads the files).

Two paths give the same answers: a fast one for the clean, unquoted CSV lines that make up nearly all of a
10-million-row roll (one regex over the raw line, dictionary look-ups for the numbers), and a careful one,
field by field, for everything else, which also finds the first problem of a bad row. A fast-path miss simply
falls through to the careful path, so the fast path can only ever accept a subset of what the careful path
accepts (tests/registry/roll/test_source.py checks they agree)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields, make_dataclass
from operator import itemgetter
from typing import Any

from core.text import unsafe_character
from registry.states import BajaReason, RollStatus

MAX_NAME_CHARS = 120  # RollEntry's name columns

REQUIRED = ("clave_elector", "nombre", "estado", "distrito", "municipio", "seccion", "situacion")
OPTIONAL = ("cic", "ocr", "identificador_ciudadano", "apellido_paterno", "apellido_materno")
# The order both paths unpack a row's values in.
FIELDS = ("clave_elector", "cic", "ocr", "identificador_ciudadano", "nombre", "apellido_paterno",
          "apellido_materno", "estado", "distrito", "municipio", "seccion", "situacion")

# Positions 13-14 are the state of birth: 01-32, or 87/88 (born abroad / unknown). The birth date is not
# checked: the roll is INE's own data, and a rule stricter than INE's would drop real voters from it.
_CLAVE_TEXT = r"[A-Z]{6}[0-9]{6}(?:0[1-9]|[12][0-9]|3[0-2]|8[78])[HMX][0-9]{3}"
_CLAVE = re.compile(_CLAVE_TEXT)
_DIGIT_WIDTHS = {"cic": 9, "ocr": 13, "identificador_ciudadano": 9}
_DIGITS = {name: re.compile(f"[0-9]{{{width}}}") for name, width in _DIGIT_WIDTHS.items()}
_RANGES = {"estado": 32, "distrito": 300, "municipio": 999, "seccion": 9999}


def _numbers(top: int) -> dict[str, int]:
    """Every plain spelling of 1..top in up to 4 ASCII digits ("7", "07", "007", "0007"): a look-up is faster than
    int(), and refuses by construction signs, exponents, other scripts' digits and 5,000-digit numbers."""
    return {str(n).zfill(width): n for n in range(1, top + 1) for width in range(len(str(n)), 5)}


_NUMBERS = {name: _numbers(top) for name, top in _RANGES.items()}
_SITUACION = {
    "vigente": (RollStatus.VIGENTE, None),
    "padron_sin_lista": (RollStatus.PADRON_SIN_LISTA, None),
    "baja_defuncion": (RollStatus.BAJA, BajaReason.DEFUNCION),
    "baja_suspension_derechos": (RollStatus.BAJA, BajaReason.SUSPENSION_DERECHOS),
    "baja_perdida_vigencia": (RollStatus.BAJA, BajaReason.PERDIDA_VIGENCIA),
}
_SITUACION.update({key.upper(): value for key, value in _SITUACION.items()})


@dataclass(frozen=True, slots=True)
class RollRow:
    line: int
    clave_elector: str
    cic: str | None
    ocr: str | None
    identificador_ciudadano: str | None
    nombre: str
    apellido_paterno: str
    apellido_materno: str
    state_code: int
    district: int
    municipality: int
    seccion: int
    status: RollStatus
    baja_reason: BajaReason | None


@dataclass(frozen=True, slots=True)
class RowRejection:
    line: int
    reason: str  # names the column and the problem, never the value


# A frozen dataclass's __init__ sets each field through object.__setattr__: 14 calls, about 4 µs a row here, more
# than everything else a row costs. Rows are built as this mutable twin (same slots, same layout) and then become
# RollRow, which leaves them exactly as frozen as if RollRow() had built them.
_MutableRow = make_dataclass("_MutableRow", [(f.name, f.type) for f in fields(RollRow)], slots=True)


def _new_row(*values: Any) -> RollRow:
    row = _MutableRow(*values)
    row.__class__ = RollRow
    return row


class RowValidator:
    """Validates rows of one file, whose header put our columns at `found` (absent optional columns read the ""
    appended after a row's last cell)."""

    def __init__(self, found: dict[str, int], width: int) -> None:
        self.width = width
        self._found = found
        self._get = itemgetter(*(found.get(name, width) for name in FIELDS))
        self._used = [(name, found[name]) for name in FIELDS if name in found]

    def fast_matcher(self, delimiter: str) -> Callable[[int, str], RollRow | None]:
        """For one raw unquoted line: its RollRow, or None to send it down the careful path."""
        field = f"[^{re.escape(delimiter)}\"\r\n]*"
        patterns = {"clave_elector": _CLAVE_TEXT, "cic": "[0-9]{9}|", "ocr": "[0-9]{13}|",
                    "identificador_ciudadano": "[0-9]{9}|"}
        by_index = {index: name for name, index in self._found.items()}
        # Validates the shape only (no capturing groups: split() then takes the values faster than groups()).
        parts = (f"(?:{patterns.get(by_index.get(index, ''), field)})" for index in range(self.width))
        fullmatch = re.compile(re.escape(delimiter).join(parts) + "(?:\r\n|\r|\n)?").fullmatch
        estados, distritos, municipios, secciones = (_NUMBERS[name] for name in _RANGES)
        get, situaciones, mutable_row = self._get, _SITUACION, _MutableRow

        def fast(line_number: int, line: str) -> RollRow | None:
            if fullmatch(line) is None:
                return None
            cells = line.rstrip("\r\n").split(delimiter)
            cells.append("")
            (clave, cic, ocr, ident, nombre, paterno, materno, estado, distrito, municipio, seccion,
             situacion) = get(cells)
            nombre, paterno, materno = nombre.strip(), paterno.strip(), materno.strip()
            state, district, municipality, number = (estados.get(estado), distritos.get(distrito),
                                                     municipios.get(municipio), secciones.get(seccion))
            standing = situaciones.get(situacion)
            if (standing is None or state is None or district is None or municipality is None or number is None
                    or not nombre or len(nombre) > MAX_NAME_CHARS or len(paterno) > MAX_NAME_CHARS
                    or len(materno) > MAX_NAME_CHARS or not (nombre + paterno + materno).isprintable()):
                return None
            row = mutable_row(line_number, clave, cic or None, ocr or None, ident or None, nombre, paterno, materno,
                              state, district, municipality, number, standing[0], standing[1])
            row.__class__ = RollRow  # see _MutableRow
            return row

        return fast

    def row(self, line: int, cells: list[str]) -> RollRow | RowRejection | None:
        """The careful path; None for a blank row (skipped silently, not data). Appends to `cells`."""
        cells.append("")
        (clave, cic, ocr, ident, nombre, paterno, materno, estado, distrito, municipio, seccion,
         situacion) = self._get(cells)
        if not "".join(cells).isprintable() and (problem := self._unprintable(cells)):
            return RowRejection(line, problem)
        clave = clave.strip().upper()
        if not _CLAVE.fullmatch(clave):
            if not any(cell.strip() for cell in cells):
                return None
            return RowRejection(line, "clave_elector: no tiene el formato de 18 caracteres (6 letras, 8 dígitos, "
                                      "H, M o X y 3 dígitos, con el estado de nacimiento en las posiciones 13-14)")
        ids = (cic.strip() or None, ocr.strip() or None, ident.strip() or None)
        for name, value in zip(_DIGIT_WIDTHS, ids, strict=True):
            if value is not None and not _DIGITS[name].fullmatch(value):
                return RowRejection(line, f"{name}: debe tener exactamente {_DIGIT_WIDTHS[name]} dígitos")
        names = {"nombre": nombre.strip(), "apellido_paterno": paterno.strip(), "apellido_materno": materno.strip()}
        if not names["nombre"]:
            return RowRejection(line, "nombre: está vacío")
        for name, value in names.items():
            if len(value) > MAX_NAME_CHARS:
                return RowRejection(line, f"{name}: tiene más de {MAX_NAME_CHARS} caracteres")
        numbers = []
        for name, value in zip(_RANGES, (estado, distrito, municipio, seccion), strict=True):
            number = _NUMBERS[name].get(value.strip())
            if number is None:
                return RowRejection(line, f"{name}: debe ser un número entero de 1 a {_RANGES[name]}")
            numbers.append(number)
        standing = _SITUACION.get(situacion.strip().lower())
        if standing is None:
            return RowRejection(line, "situacion: debe ser vigente, padron_sin_lista, baja_defuncion, "
                                      "baja_suspension_derechos o baja_perdida_vigencia")
        return _new_row(line, clave, *ids, *names.values(), *numbers, *standing)

    def _unprintable(self, cells: list[str]) -> str | None:
        """Non-printable text is often harmless (a tab, a no-break space) or in a column we ignore; refuse only
        control or invisible characters and line breaks in the columns we keep."""
        for name, index in self._used:
            bad = unsafe_character(cells[index])
            if bad is not None and "\ud800" <= bad <= "\udfff":
                return f"{name}: contiene bytes que no son texto válido en la codificación del archivo"
            if bad is not None or "\n" in cells[index] or "\r" in cells[index]:
                return f"{name}: contiene caracteres de control, invisibles o saltos de línea"
        return None
