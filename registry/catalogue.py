"""Default catalogues kept as data: the mesa de control's inconsistencies (editable by the OPL)."""

from __future__ import annotations

from sqlmodel import Session

from registry.models import InconsistencyType

# From INE's published invalidations; the exact 2020-2025 catalogue is unconfirmed, hence editable rows.
DEFAULT_INCONSISTENCIES: tuple[tuple[str, str, str, bool], ...] = (
    ("fotocopia", "Fotocopia de la credencial", "Photocopy of the credential", False),
    ("simulacion", "Simulación de credencial", "Simulated credential", False),
    ("documento_no_valido", "Documento no válido (no es credencial para votar)", "Not a voter credential", False),
    ("no_vigente", "Credencial no vigente", "Credential expired", False),
    ("imagen_ilegible", "Imagen ilegible", "Illegible image", False),
    ("foto_viva", "Foto viva no corresponde o ausente", "Live photo missing or not matching", False),
    ("firma", "Firma ausente o no válida", "Signature missing or invalid", False),
    ("datos_no_coinciden", "Datos capturados no coinciden con la credencial", "Data does not match", False),
    ("otro", "Otro (con comentario)", "Other (with comment)", True),
)


def ensure_default_inconsistencies(*, session: Session) -> int:
    """Insert the default catalogue rows that are missing; never overwrite the OPL's edits."""
    added = 0
    for order, (code, label_es, label_en, needs_comment) in enumerate(DEFAULT_INCONSISTENCIES):
        if session.get(InconsistencyType, code) is None:
            session.add(
                InconsistencyType(
                    code=code, label_es=label_es, label_en=label_en,
                    requires_comment=needs_comment, sort_order=order,
                )
            )
            added += 1
    return added
