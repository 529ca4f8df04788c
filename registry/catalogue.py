"""Default catalogues kept as data: the mesa de control's inconsistencies (editable by the OPL)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from registry.models import InconsistencyType, Opl

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


def ensure_default_inconsistencies(*, session: Session, opl_id: int | None = None) -> int:
    """Give every OPL (or the one named) the default catalogue rows it lacks; never overwrite the OPL's edits
    nor bring back a row it deactivated."""
    opl_ids = [opl_id] if opl_id is not None else [i for i in session.exec(select(Opl.id)) if i is not None]
    added = 0
    for one in opl_ids:
        have = set(session.exec(select(InconsistencyType.code).where(InconsistencyType.opl_id == one)))
        for order, (code, label_es, label_en, needs_comment) in enumerate(DEFAULT_INCONSISTENCIES):
            if code not in have:
                session.add(InconsistencyType(opl_id=one, code=code, label_es=label_es, label_en=label_en,
                                              requires_comment=needs_comment, sort_order=order))
                added += 1
    session.flush()
    return added


def catalogue(*, session: Session, opl_id: int, active_only: bool = True) -> list[InconsistencyType]:
    """The OPL's inconsistency types in the order the desk shows them (the defaults seeded on first use)."""
    ensure_default_inconsistencies(session=session, opl_id=opl_id)
    query = select(InconsistencyType).where(InconsistencyType.opl_id == opl_id)
    if active_only:
        query = query.where(col(InconsistencyType.active).is_(True))
    return list(session.exec(query.order_by(col(InconsistencyType.sort_order), col(InconsistencyType.id))))
