"""The one table of what a person reads for each refusal of the intake (registry.intake.refusals), in Spanish
with its English in the catalogue, used by the citizen pages, the field pages and the field JSON API alike.

A few refusals are told to two different people: the citizen about their own support ("ya diste tu apoyo"), the
auxiliary about the person in front of them ("esta credencial ya apoyó"). Those rows have one wording per
audience; every other row has one wording for everybody."""

from __future__ import annotations

from enum import StrEnum

from capture.identifiers import IdentifierError
from registry.intake.refusals import Refusal, Refused
from registry.states import ImageKind
from web.decoding import advice
from web.i18n import gettext as _


class Audience(StrEnum):
    CITIZEN = "citizen"
    FIELD = "field"


def refusal_message(refusal: Refused | Refusal, audience: Audience) -> str:
    """What `audience` reads about this refusal, in the request's language."""
    refused = refusal if isinstance(refusal, Refused) else Refused(refusal)
    if refused.code is Refusal.UNREADABLE:
        tip = advice(refused.reason) if refused.reason else ""
        return " ".join([_("No se pudo leer el reverso. Escribe la CIC, o la clave de elector y el OCR, que se ven en la foto."), tip]).strip()  # noqa: E501
    if refused.code is Refusal.BAD_IMAGE:
        return _("Una de las fotos no sirve (%(part)s). Hay que capturar de nuevo.") % {"part": part_label(refused.photo)}  # noqa: E501
    if refused.code is Refusal.INCOMPLETE:
        return missing_message(refused.missing)
    if refused.code is Refusal.INVALID_IDENTIFIER:
        return identifier_message(refused.identifier, refused.problem)
    by_audience = _for_audience().get(refused.code)
    if by_audience is not None:
        return by_audience[audience]
    if audience is Audience.CITIZEN:  # the rest concern auxiliaries, or a forged step: the citizen starts again
        return _("No pudimos registrar tu apoyo. Empieza de nuevo desde tu código.")
    return _shared().get(refused.code, _("No se pudo guardar esta captura."))


def _for_audience() -> dict[Refusal, dict[Audience, str]]:
    return {
        Refusal.ALREADY_SUPPORTED: {
            Audience.CITIZEN: _("Ya diste tu apoyo a esta persona con esta credencial. Solo cuenta una vez, así que no se registra de nuevo."),  # noqa: E501
            Audience.FIELD: _("Esta credencial ya apoyó a esta candidatura: cuenta una sola vez."),
        },
        Refusal.PROCESS_CLOSED: {
            Audience.CITIZEN: _("El periodo para apoyar a esta persona ya terminó."),
            Audience.FIELD: _("El periodo para recabar apoyo ya terminó."),
        },
        Refusal.ASPIRANT_NOT_FOUND: {
            Audience.CITIZEN: _("Esa persona aspirante no está disponible. Elige otra."),
            Audience.FIELD: _("Esta candidatura ya no está disponible."),
        },
    }


def _shared() -> dict[Refusal, str]:
    return {
        Refusal.CREDENTIAL_EXPIRED: _("La credencial ya no está vigente: este apoyo no contaría."),
        Refusal.AUXILIARY_INACTIVE: _("Tu registro como auxiliar está suspendido: la captura se queda en el teléfono hasta que te reactiven."),  # noqa: E501
        Refusal.AUXILIARY_NOT_OF_ASPIRANT: _("No estás registrado como auxiliar de esta candidatura."),
        Refusal.NO_CREDENTIAL: _("Faltan los datos de la credencial."),
        Refusal.KEY_REUSED: _("Esta captura choca con otra ya guardada. Captúrala de nuevo."),
        Refusal.WINDOW_NOT_OPEN: _("El periodo para recabar apoyo de esta candidatura todavía no empieza: no se puede capturar."),  # noqa: E501
        Refusal.WINDOW_CLOSED: _("El periodo para recabar apoyo terminó y ya pasó el plazo para enviar las capturas guardadas en el teléfono: esta ya no se puede recibir."),  # noqa: E501
        Refusal.CAPTURED_BEFORE: _("La fecha del teléfono indica que se capturó antes de que empezara el periodo para recabar apoyo: no se puede recibir. Revisa la fecha y la hora del teléfono."),  # noqa: E501
        Refusal.CAPTURED_AFTER: _("La fecha del teléfono indica que se capturó después de que terminó el periodo para recabar apoyo: no se puede recibir."),  # noqa: E501
    }


def part_label(part: ImageKind | None) -> str:
    return {
        ImageKind.BACK: _("foto del reverso"), ImageKind.FRONT: _("foto del frente"),
        ImageKind.LIVE_PHOTO: _("foto de la persona"), ImageKind.SIGNATURE: _("firma"),
    }.get(part, str(part)) if part is not None else ""


def missing_message(parts: tuple[ImageKind, ...]) -> str:
    return _("Falta: %(parts)s.") % {"parts": ", ".join(part_label(part) for part in parts)}


def identifier_message(identifier: str | None, problem: IdentifierError | None) -> str:
    """Which typed identifier failed; one missing (`empty`) asks for the CIC or the clave and the OCR."""
    if problem is IdentifierError.EMPTY:
        return _("Escribe la CIC (9 dígitos), o la clave de elector (18 caracteres) y el OCR (13 dígitos).")
    return {
        "cic": _("La CIC no es válida: son 9 dígitos (o 10 con el dígito verificador)."),
        "clave_elector": _("La clave de elector no es válida: 6 letras, 8 números, H o M y 3 números."),
        "ocr": _("El OCR no es válido: son 13 dígitos."),
    }.get(identifier or "", _("Uno de los datos escritos no es válido."))

