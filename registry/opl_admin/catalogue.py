"""The OPL admin edits the OPL's inconsistency catalogue (the desk's reasons a support does not count): labels in
Spanish and English, whether a comment is required, whether decisions with it go to a second reviewer, active,
order; adds types and deletes unused ones. A type already used by a decision or a paper form stays (it names
why those supports do not count, which the aspirant sees): it can only be deactivated."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, col, select

from core.audit import record_audit
from core.text import TextRefusal, required_text
from registry.catalogue import catalogue
from registry.models import InconsistencyType, PaperForm, ReviewDecision
from registry.opl_admin import NotFound

MAX_ORDER = 9999
_CODE = re.compile(r"[a-z0-9_]{1,40}")


class TypeProblem(StrEnum):
    LABEL_MISSING = "label_missing"
    LABEL_TOO_LONG = "label_too_long"
    LABEL_CHARACTERS = "label_characters"
    CODE_INVALID = "code_invalid"
    CODE_TAKEN = "code_taken"
    ORDER = "order"


_LABEL_PROBLEMS = {TextRefusal.CHARACTERS: TypeProblem.LABEL_CHARACTERS, TextRefusal.MISSING: TypeProblem.LABEL_MISSING,
                   TextRefusal.TOO_LONG: TypeProblem.LABEL_TOO_LONG}


class InvalidType(Exception):
    def __init__(self, problems: dict[str, TypeProblem]) -> None:
        super().__init__(",".join(problems))
        self.problems = problems


class TypeInUse(Exception):
    """Decisions or paper forms name this type: deactivate it instead."""


@dataclass(frozen=True)
class TypeForm:
    label_es: str
    label_en: str
    requires_comment: bool
    double_check: bool
    active: bool
    sort_order: str
    code: str = ""  # only when adding; empty: made from the Spanish label


@dataclass(frozen=True)
class CatalogueEntry:
    type: InconsistencyType
    used: bool


def catalogue_of(*, session: Session, opl_id: int) -> list[CatalogueEntry]:
    """Every type of the OPL, inactive ones included (the defaults are seeded on first use, hence a write)."""
    types = catalogue(session=session, opl_id=opl_id, active_only=False)
    used = _used(session, [t.id for t in types if t.id is not None])
    return [CatalogueEntry(type=t, used=t.id in used) for t in types]


def _used(session: Session, ids: list[int]) -> set[int]:
    decided = session.exec(select(ReviewDecision.inconsistency_id).where(
        col(ReviewDecision.inconsistency_id).in_(ids)).distinct()).all()
    typed = session.exec(select(PaperForm.inconsistency_id).where(
        col(PaperForm.inconsistency_id).in_(ids)).distinct()).all()
    return {one for one in [*decided, *typed] if one is not None}


def update_type(*, session: Session, opl_id: int, type_id: int, form: TypeForm,
                actor_account_id: int) -> InconsistencyType:
    row = _type_of(session, opl_id, type_id)
    label_es, label_en, order = _checked(form)
    before = f"active={row.active}; comment={row.requires_comment}; double={row.double_check}"
    row.label_es, row.label_en, row.sort_order = label_es, label_en, order
    row.requires_comment, row.double_check, row.active = form.requires_comment, form.double_check, form.active
    session.add(row)
    record_audit(session, action="inconsistency_type_updated", actor_account_id=actor_account_id,
                 object_type="inconsistency_type", object_id=type_id, before=before,
                 after=f"active={row.active}; comment={row.requires_comment}; double={row.double_check}")
    return row


def add_type(*, session: Session, opl_id: int, form: TypeForm, actor_account_id: int) -> InconsistencyType:
    label_es, label_en, order = _checked(form)
    code = (form.code.strip().lower() or slug(label_es))[:40]
    if not _CODE.fullmatch(code):
        raise InvalidType({"codigo": TypeProblem.CODE_INVALID})
    existing = [e.type.code for e in catalogue_of(session=session, opl_id=opl_id)]
    if code in existing:
        raise InvalidType({"codigo": TypeProblem.CODE_TAKEN})
    row = InconsistencyType(opl_id=opl_id, code=code, label_es=label_es, label_en=label_en,
                            requires_comment=form.requires_comment, double_check=form.double_check,
                            active=form.active, sort_order=order)
    session.add(row)
    session.flush()
    record_audit(session, action="inconsistency_type_added", actor_account_id=actor_account_id,
                 object_type="inconsistency_type", object_id=row.id, after=f"opl={opl_id}; code={code}")
    return row


def delete_type(*, session: Session, opl_id: int, type_id: int, actor_account_id: int) -> None:
    row = _type_of(session, opl_id, type_id)
    if _used(session, [type_id]):
        raise TypeInUse
    session.delete(row)
    record_audit(session, action="inconsistency_type_deleted", actor_account_id=actor_account_id,
                 object_type="inconsistency_type", object_id=type_id, before=f"opl={opl_id}; code={row.code}")


def slug(label: str) -> str:
    """`Credencial dañada` -> `credencial_danada`: the code from the label, for the admin who types none."""
    plain = unicodedata.normalize("NFKD", label.lower())
    letters = "".join(c for c in plain if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "_", letters).strip("_")[:40]


def _type_of(session: Session, opl_id: int, type_id: int) -> InconsistencyType:
    row = session.get(InconsistencyType, type_id)
    if row is None or row.opl_id != opl_id:
        raise NotFound
    return row


def _checked(form: TypeForm) -> tuple[str, str, int]:
    problems: dict[str, TypeProblem] = {}
    labels = [_label(form.label_es, "etiqueta_es", problems), _label(form.label_en, "etiqueta_en", problems)]
    raw = form.sort_order.strip()
    order = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 4 else -1
    if order < 0 or order > MAX_ORDER:
        problems["orden"] = TypeProblem.ORDER
    if problems:
        raise InvalidType(problems)
    return labels[0], labels[1], order


def _label(text: str, name: str, problems: dict[str, TypeProblem]) -> str:
    label, refused = required_text(text, 200)
    if refused is not None:
        problems[name] = _LABEL_PROBLEMS[refused]
    return label
