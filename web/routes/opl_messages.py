"""The OPL admin pages' sentences for the domain's problem codes (Spanish, translated through gettext)."""

from __future__ import annotations

from registry.opl_admin.catalogue import TypeProblem
from registry.opl_admin.people import InvitationError, PersonProblem
from registry.opl_admin.process_file import FileProblem, RowProblem
from registry.opl_admin.validation import (
    FIRST_YEAR,
    LAST_YEAR,
    MAX_INTERVAL_SECONDS,
    MAX_ROLL_SIZE,
    MAX_UNIT_NUMBER,
    Problem,
)
from web.i18n import gettext as _


def _range(name: str) -> str:
    return {
        "distrito": _("Escribe el número de distrito, de 1 a %(max)s.") % {"max": MAX_UNIT_NUMBER},
        "municipio": _("Escribe el número de municipio, de 1 a %(max)s.") % {"max": MAX_UNIT_NUMBER},
        "lista_nominal": _("Escribe el total de la Lista Nominal como número entero, de 1 a %(max)s, o déjalo "
                           "vacío.") % {"max": f"{MAX_ROLL_SIZE:,}"},
        "muestra_revision_porcentaje": _("Escribe un porcentaje entero de 0 a 100."),
        "ritmo_captura_segundos": _("Escribe un número entero de segundos, de 1 a %(max)s.") % {
            "max": MAX_INTERVAL_SECONDS},
    }.get(name, _("Escribe un número entero válido."))


def process_problem_message(name: str, problem: Problem | str) -> str:
    if problem == Problem.NUMBER:
        return _range(name)
    if problem == Problem.MISSING and name in ("distrito", "municipio"):
        return _range(name)
    if problem == Problem.DATE:
        return _("Escribe una fecha y hora válidas (AAAA-MM-DD HH:MM), entre los años %(first)s y %(last)s.") % {
            "first": FIRST_YEAR, "last": LAST_YEAR}
    if problem == Problem.END_BEFORE_START:
        return (_("El cierre de las objeciones debe ser posterior a su apertura.") if name == "objeciones_fin"
                else _("El fin del periodo de captación debe ser posterior a su inicio."))
    return {
        Problem.MISSING: _("Este dato es obligatorio."),
        Problem.TOO_LONG: _("El texto es demasiado largo (máximo 200 caracteres)."),
        Problem.CHARACTERS: _("El texto tiene caracteres no permitidos (invisibles o de control). Escríbelo de "
                              "nuevo en lugar de copiarlo y pegarlo."),
        Problem.CHOICE: _("Elige una de las opciones de la lista."),
        Problem.PERCENT: _("Escribe un porcentaje mayor que 0 y hasta 100, con punto decimal (por ejemplo 2.5)."),
        Problem.NOT_FOR_SCOPE: _("Deja vacío este número: solo se usa con ese ámbito."),
        Problem.DISPERSION_INCOMPLETE: _("La regla de dispersión necesita la unidad, el porcentaje mínimo de "
                                         "unidades y el porcentaje por unidad; o deja vacíos los tres."),
        Problem.MUNICIPALITY_LIST: _("Escribe números de municipio de 1 a %(max)s separados por comas, por "
                                     "ejemplo 4, 12, 30.") % {"max": MAX_UNIT_NUMBER},
        Problem.NAME_TAKEN: _("Tu OPL ya tiene un proceso con este nombre."),
        Problem.SCOPE_LOCKED: _("El proceso ya tiene apoyos: su ámbito ya no puede cambiar, porque dejaría fuera "
                                "de ámbito a quienes ya dieron su apoyo."),
        Problem.PAPER_IN_USE: _("Ya se recibieron apoyos en papel de un municipio que quitaste: no puede dejar de "
                                "estar autorizado, porque esos apoyos dejarían de contar."),
    }.get(Problem(problem), _("Revisa este dato."))


def file_problem_message(problem: RowProblem) -> str:
    if problem.field == "archivo":
        message = {
            FileProblem.UNREADABLE: _("No pudimos leer el archivo. Guárdalo como CSV (UTF-8) o XLSX."),
            FileProblem.EMPTY: _("El archivo no tiene renglones de procesos."),
            FileProblem.TOO_LARGE: _("El archivo es demasiado grande."),
            FileProblem.TOO_MANY_ROWS: _("El archivo tiene demasiados renglones; divídelo en varios."),
        }.get(problem.problem, _("Revisa el archivo."))
        return message
    if problem.problem == FileProblem.COLUMNS_MISSING:
        return _("Falta la columna %(column)s en el encabezado.") % {"column": problem.field}
    if problem.problem == FileProblem.UNKNOWN_COLUMN:
        return _("La columna %(column)s no es una de las de la plantilla; corrige su nombre o quítala.") % {
            "column": problem.field}
    if problem.problem == FileProblem.REPEATED_IN_FILE:
        message = _("Este nombre de proceso se repite en el archivo.")
    else:
        message = process_problem_message(problem.field, problem.problem)
    return _("Renglón %(line)s, columna %(column)s: %(message)s") % {
        "line": problem.line, "column": problem.field, "message": message}


def person_problem_message(problem: PersonProblem) -> str:
    return {
        PersonProblem.NAME_MISSING: _("Escribe el nombre completo."),
        PersonProblem.NAME_TOO_LONG: _("El nombre es demasiado largo (máximo 200 caracteres)."),
        PersonProblem.NAME_CHARACTERS: _("El nombre tiene caracteres no permitidos (invisibles o de control). "
                                         "Escríbelo de nuevo en lugar de copiarlo y pegarlo."),
        PersonProblem.EMAIL_INVALID: _("Escribe un correo electrónico válido, por ejemplo nombre@ejemplo.mx."),
        PersonProblem.EMAIL_TAKEN: _("Ya hay una persona registrada con este correo."),
    }[problem]


def type_problem_message(problem: TypeProblem) -> str:
    return {
        TypeProblem.LABEL_MISSING: _("Escribe la descripción."),
        TypeProblem.LABEL_TOO_LONG: _("La descripción es demasiado larga (máximo 200 caracteres)."),
        TypeProblem.LABEL_CHARACTERS: _("La descripción tiene caracteres no permitidos (invisibles o de control)."),
        TypeProblem.CODE_INVALID: _("El código usa solo letras minúsculas sin acentos, números y guion bajo (hasta "
                                    "40)."),
        TypeProblem.CODE_TAKEN: _("Ya hay un tipo con este código en tu catálogo."),
        TypeProblem.ORDER: _("Escribe el orden como número entero de 0 a 9999."),
    }[problem]


def invitation_problem_message(error: InvitationError) -> str:
    return {
        InvitationError.EXPIRED: _("Esta invitación venció. Pide al OPL que te la envíe de nuevo."),
        InvitationError.ALREADY_USED: _("Esta invitación ya se aceptó."),
        InvitationError.NOT_ACTIVE: _("Esta invitación ya no está vigente. Habla con el OPL."),
        InvitationError.EMAIL_MISMATCH: _("Iniciaste sesión con un correo distinto al invitado. Cierra sesión y "
                                          "entra con la cuenta de ese correo."),
        InvitationError.ROLE_CONFLICT: _("No puedes aceptar esta invitación: tu cuenta ya tiene un cargo del otro "
                                         "lado de la captación en este OPL (quien recaba apoyos no puede revisarlos, "
                                         "ni al revés). No se hizo ningún cambio."),
    }.get(error, _("Este enlace de invitación no es válido. Revisa que esté completo o pide uno nuevo."))
