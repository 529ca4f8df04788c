"""The report's categories: INE's "Resumen por candidatura" columns (seed 000), one per support at every moment.

A support is in exactly one category, derived from its status and situación registral, so the columns always
add up to the supports sent: a support never leaves a report, it only moves between columns."""

from __future__ import annotations

from enum import StrEnum
from functools import cache

from registry.states import SituacionRegistral, SupportStatus


class Category(StrEnum):
    EN_LISTA_NOMINAL = "en_lista_nominal"  # counts for the threshold
    DUPLICADOS_MISMO_ASPIRANTE = "duplicados_mismo_aspirante"
    OTRA_SITUACION_REGISTRAL = "otra_situacion_registral"  # broken down by situación (OTRA_SITUACION)
    CON_INCONSISTENCIA = "con_inconsistencia"
    EN_PROCESAMIENTO = "en_procesamiento"  # received, not yet matched against the roll
    EN_MESA_DE_CONTROL = "en_mesa_de_control"  # waiting for a person: review, objection


CATEGORIES: tuple[Category, ...] = tuple(Category)

# "En otra situación registral": every reason the roll gives for not counting, but the duplicate of the same
# aspirant (its own column) and the mesa de control's inconsistencies.
OTRA_SITUACION: tuple[SituacionRegistral, ...] = (
    SituacionRegistral.DUPLICADO_OTRO_ASPIRANTE,
    SituacionRegistral.EN_PADRON_NO_EN_LISTA,
    SituacionRegistral.BAJA,
    SituacionRegistral.DATOS_NO_ENCONTRADOS,
    SituacionRegistral.FUERA_DE_AMBITO,
    SituacionRegistral.FUERA_REGIMEN_EXCEPCION,
)

_WAITING = {
    SupportStatus.RECEIVED: Category.EN_PROCESAMIENTO,
    SupportStatus.VERIFYING: Category.EN_PROCESAMIENTO,
    SupportStatus.IN_REVIEW: Category.EN_MESA_DE_CONTROL,
    SupportStatus.CONTESTED: Category.EN_MESA_DE_CONTROL,
    SupportStatus.VALID: Category.EN_LISTA_NOMINAL,
}


@cache  # a handful of (status, situación) pairs, looked up for every row of every report
def category_of(status: SupportStatus | str, situacion: SituacionRegistral | str) -> Category:
    """Where a support stands in the report. Only a rejected support's column depends on its situación."""
    waiting = _WAITING.get(SupportStatus(status))
    if waiting is not None:
        return waiting
    situacion = SituacionRegistral(situacion)
    if situacion is SituacionRegistral.DUPLICADO_MISMO_ASPIRANTE:
        return Category.DUPLICADOS_MISMO_ASPIRANTE
    if situacion in OTRA_SITUACION:
        return Category.OTRA_SITUACION_REGISTRAL
    # Rejected with no reason from the roll: a person found an inconsistency (con_inconsistencia).
    return Category.CON_INCONSISTENCIA
