"""What the paper pages and `registro paper import` say about a problem of a form, a row or a whole file, in the
user's language. Sentences name the field and the rule, never the value typed (a row's report may be logged)."""

from __future__ import annotations

from registry.paper.files import MAX_FILE_BYTES, MAX_ROWS, FileProblem, FileReport, PaperFileError
from registry.paper.forms import FIELDS, LIMITS, FieldProblem, Problem
from web.i18n import gettext as _

CLAVE_RULE = "clave"  # the key of the clave's rule in `live_rules`, shared with paper.js


def field_label(name: str) -> str:
    return {
        "numero_referencia": _("Número de referencia"), "nombre": _("Nombre"),
        "apellido_paterno": _("Apellido paterno"), "apellido_materno": _("Apellido materno"),
        "clave_elector": _("Clave de elector"), "ocr": _("OCR"), "tipo_inconsistencia": _("Tipo de inconsistencia"),
        "comentario": _("Comentario"),
    }.get(name, name)


def clave_rule() -> str:
    return _("La clave de elector tiene 18 caracteres: 6 letras, 8 dígitos, H o M y 3 dígitos.")


def ocr_rule() -> str:
    return _("El OCR tiene 13 dígitos, sin letras ni espacios; está al reverso de la credencial.")


def _required(name: str) -> str:
    return {"numero_referencia": _("Escribe el número de referencia del formato."),
            "nombre": _("Escribe el nombre."), "clave_elector": _("Escribe la clave de elector."),
            "ocr": _("Escribe el OCR de la credencial.")}.get(name, _("Llena este campo."))


def problem_text(problem: FieldProblem, folio: str | None = None) -> str:
    label = field_label(problem.field)
    code = problem.problem
    if code is Problem.REQUIRED:
        return _required(problem.field)
    if code is Problem.TOO_LONG:
        return _("«%(field)s» es demasiado largo: máximo %(limit)s caracteres.") % {
            "field": label, "limit": LIMITS.get(problem.field, 0)}
    if code is Problem.BAD_CHARACTER:
        return _("«%(field)s» tiene un carácter no permitido (de control o invisible).") % {"field": label}
    if code is Problem.REFERENCE_TAKEN and folio:
        return _("Ese número de referencia ya se capturó para este aspirante con otros datos (folio %(folio)s). "
                 "Revisa el formato.") % {"folio": folio}
    return _fixed_texts()[code]


def _fixed_texts() -> dict[Problem, str]:
    return {
        Problem.NO_SURNAME: _("Escribe al menos un apellido."),
        Problem.CLAVE_LENGTH: clave_rule(),
        Problem.CLAVE_FORMAT: clave_rule(),
        Problem.CLAVE_DATE: _("La clave de elector no es válida: los 6 dígitos después de las letras son la fecha "
                              "de nacimiento (AAMMDD)."),
        Problem.CLAVE_STATE: _("La clave de elector no es válida: los 2 dígitos después de la fecha son la "
                               "entidad de nacimiento (01 a 32)."),
        Problem.OCR_DIGITS: ocr_rule(),
        Problem.OCR_LENGTH: ocr_rule(),
        Problem.UNKNOWN_TYPE: _("Ese tipo de inconsistencia no está en el catálogo del OPL."),
        Problem.COMMENT_REQUIRED: _("Ese tipo de inconsistencia pide un comentario."),
        Problem.REFERENCE_TAKEN: _("Ese número de referencia ya se capturó para este aspirante con otros datos."),
        Problem.REFERENCE_REPEATED: _("Ese número de referencia ya aparece en una línea anterior del archivo con "
                                      "otros datos."),
        Problem.EXTRA_CELLS: _("La fila tiene más columnas que el encabezado."),
    }


def file_problem_text(error: PaperFileError) -> str:
    columns = ", ".join(error.columns)
    texts = {
        FileProblem.EMPTY: _("El archivo está vacío."),
        FileProblem.TOO_LARGE: _("El archivo pasa del límite de %(size)s MB. Divídelo en varios archivos.") % {
            "size": MAX_FILE_BYTES // 1_000_000},
        FileProblem.NO_HEADER: _("La primera línea debe ser el encabezado: %(columns)s.") % {
            "columns": ", ".join(FIELDS)},
        FileProblem.MISSING_COLUMNS: _("Faltan columnas en el encabezado: %(columns)s.") % {"columns": columns},
        FileProblem.REPEATED_COLUMN: _("El encabezado repite columnas: %(columns)s.") % {"columns": columns},
        FileProblem.NUL_BYTE: _("La línea %(line)s tiene un byte nulo (NUL): el archivo no es un CSV de texto. "
                                "Guárdalo de nuevo como CSV o XLSX.") % {"line": error.line},
        FileProblem.BAD_QUOTES: _("Línea %(line)s: unas comillas no se cierran o sobran; revisa las comillas del "
                                  "archivo.") % {"line": error.line},
        FileProblem.BAD_XLSX: _("El archivo no es un XLSX válido (está dañado o es de otro tipo). Guárdalo de "
                                "nuevo como XLSX o CSV."),
        FileProblem.TOO_MANY_ROWS: _("El archivo tiene más de %(rows)s filas. Divídelo en varios archivos.") % {
            "rows": f"{MAX_ROWS:,}"},
        FileProblem.NO_ROWS: _("El archivo solo tiene el encabezado: no hay apoyos que importar."),
    }
    return texts[error.problem]


def report_lines(report: FileReport) -> list[str]:
    """The command line's report: one line per problem (line, column, why), then the totals."""
    lines = [_("línea %(line)s, %(column)s: %(text)s") % {
        "line": problem.line, "column": problem.field or "-", "text": problem_text(problem)}
        for problem in report.problems]
    if report.problems:
        lines.append(_("No guardamos nada. Problemas encontrados: %(count)s. Corrige el archivo y vuelve a subirlo "
                       "completo.") % {"count": len(report.problems)})
    elif report.stored:
        lines.append(_("Guardamos %(added)s apoyos nuevos; %(present)s ya estaban capturados y no se repitieron.")
                     % {"added": report.added, "present": report.already_present})
    else:
        lines.append(_("Las %(rows)s filas están bien: se guardarían %(added)s apoyos nuevos y %(present)s ya "
                       "estaban capturados. Todavía no se guardó nada.") % {
            "rows": report.rows, "added": report.added, "present": report.already_present})
    return lines
