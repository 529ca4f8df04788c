"""One paper support form (seed 002's fields) as the OPL's staff types it, or as one row of a bulk file: the
validation both share (static/js/paper.js says the same rules as you type) and the capture through the one
intake (registry.supports.submit_support), then the PaperForm row beside the support.

The same form twice is stored once: (aspirant, número de referencia) identifies it. Sent again with the same data
it is "already captured" with its folio; with other data it is refused, never overwritten: a support already in
the count, or contested by the aspirant, is not silently replaced by a typo."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from capture.identifiers import IdentifierError, InvalidIdentifier, parse_clave_elector, parse_ocr
from core.audit import record_audit
from core.text import UnsafeText, checked_text
from registry.catalogue import catalogue
from registry.images import CleanImage, ImageStore, store_image
from registry.intake.credential import CredentialData
from registry.intake.refusals import Refused
from registry.models import Aspirant, CredentialReading, InconsistencyType, PaperForm, Process, ReviewDecision, Support
from registry.states import Channel, ReadingSource, ReviewLevel, ReviewOutcome, SituacionRegistral, SupportStatus
from registry.supports import SupportSubmission, record_transition, submit_support

FIELDS = ("numero_referencia", "nombre", "apellido_paterno", "apellido_materno", "clave_elector", "ocr",
          "tipo_inconsistencia", "comentario")
LIMITS = {"numero_referencia": 40, "nombre": 120, "apellido_paterno": 120, "apellido_materno": 120,
          "clave_elector": 40, "ocr": 40, "tipo_inconsistencia": 200, "comentario": 2000}
CHANNEL_SOURCE = {Channel.PAPER: ReadingSource.PAPER, Channel.BULK_IMPORT: ReadingSource.BULK}


class Problem(StrEnum):
    REQUIRED = "required"
    TOO_LONG = "too_long"
    BAD_CHARACTER = "bad_character"
    NO_SURNAME = "no_surname"
    CLAVE_LENGTH = "clave_length"
    CLAVE_FORMAT = "clave_format"
    CLAVE_DATE = "clave_date"
    CLAVE_STATE = "clave_state"
    OCR_DIGITS = "ocr_digits"
    OCR_LENGTH = "ocr_length"
    UNKNOWN_TYPE = "unknown_type"
    COMMENT_REQUIRED = "comment_required"
    REFERENCE_TAKEN = "reference_taken"  # stored before for this aspirant with other data
    REFERENCE_REPEATED = "reference_repeated"  # twice in one file with different data
    EXTRA_CELLS = "extra_cells"  # a bulk row with more cells than the header


@dataclass(frozen=True)
class FieldProblem:
    field: str
    problem: Problem
    line: int | None = None  # the file's line (bulk files); None for the form


@dataclass(frozen=True)
class PaperEntry:
    """What the form or the row says, as typed."""

    numero_referencia: str = ""
    nombre: str = ""
    apellido_paterno: str = ""
    apellido_materno: str = ""
    clave_elector: str = ""
    ocr: str = ""
    tipo_inconsistencia: str = ""  # the catalogue's code (the form) or its code or label (a file)
    comentario: str = ""


@dataclass(frozen=True)
class CleanEntry:
    numero_referencia: str
    nombre: str
    apellido_paterno: str
    apellido_materno: str
    clave_elector: str
    ocr: str
    inconsistency: InconsistencyType | None
    comentario: str

    @property
    def fingerprint(self) -> tuple[object, ...]:
        """What must be equal for a form sent again to be the same form."""
        kind = self.inconsistency.id if self.inconsistency else None
        return (self.nombre, self.apellido_paterno, self.apellido_materno, self.clave_elector, self.ocr, kind,
                self.comentario)


class InvalidPaper(Exception):
    """The form or file cannot be stored as sent; `folio` names the support a taken reference belongs to."""

    def __init__(self, problems: list[FieldProblem], folio: str | None = None) -> None:
        super().__init__(", ".join(f"{p.field}:{p.problem}" for p in problems))
        self.problems, self.folio = problems, folio


class NotFound(Exception):
    """No such active aspirant in the staff member's OPLs: the page answers 404."""


@dataclass(frozen=True)
class PaperCapture:
    aspirant_id: int
    entry: PaperEntry
    form_image: CleanImage | None = None


@dataclass(frozen=True)
class Captured:
    folio: str
    created: bool  # False: this form was already captured (same reference, same data)


@dataclass(frozen=True)
class AspirantChoice:
    id: int
    name: str
    process: str
    process_id: int


@dataclass(frozen=True)
class Stored:
    folio: str
    fingerprint: tuple[object, ...]


# ---------------------------------------------------------------- validation


def type_key(text: str) -> str:
    """Catalogue codes and labels compare trimmed, case-insensitively and without accents."""
    decomposed = unicodedata.normalize("NFKD", " ".join(text.split()).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def types_by_key(types: list[InconsistencyType]) -> dict[str, InconsistencyType]:
    keyed: dict[str, InconsistencyType] = {}
    for kind in types:
        keyed.setdefault(type_key(kind.label_es), kind)
    keyed.update({type_key(kind.code): kind for kind in types})
    return keyed


_CLAVE_PROBLEMS = {IdentifierError.EMPTY: Problem.REQUIRED, IdentifierError.WRONG_LENGTH: Problem.CLAVE_LENGTH,
                   IdentifierError.BAD_FORMAT: Problem.CLAVE_FORMAT, IdentifierError.BAD_DATE: Problem.CLAVE_DATE,
                   IdentifierError.BAD_STATE: Problem.CLAVE_STATE}
_OCR_PROBLEMS = {IdentifierError.EMPTY: Problem.REQUIRED, IdentifierError.NOT_DIGITS: Problem.OCR_DIGITS,
                 IdentifierError.WRONG_LENGTH: Problem.OCR_LENGTH}


def _text(entry: PaperEntry, name: str, problems: list[FieldProblem], line: int | None) -> str:
    raw = getattr(entry, name)
    if len(raw) > LIMITS[name]:
        problems.append(FieldProblem(name, Problem.TOO_LONG, line))
        return ""
    try:
        return checked_text(raw)
    except UnsafeText:
        problems.append(FieldProblem(name, Problem.BAD_CHARACTER, line))
        return ""


def validate_entry(entry: PaperEntry, *, types: dict[str, InconsistencyType], today: date,
                   line: int | None = None) -> tuple[CleanEntry | None, list[FieldProblem]]:
    """Every problem of the entry (not only the first), each tied to its field; the clean entry when none."""
    problems: list[FieldProblem] = []
    values = {name: _text(entry, name, problems, line) for name in FIELDS}
    for name in ("numero_referencia", "nombre"):
        if not values[name] and not any(p.field == name for p in problems):
            problems.append(FieldProblem(name, Problem.REQUIRED, line))
    if not values["apellido_paterno"] and not values["apellido_materno"]:
        problems.append(FieldProblem("apellido_paterno", Problem.NO_SURNAME, line))
    clave = _identifier("clave_elector", values["clave_elector"], problems, line, today)
    ocr = _identifier("ocr", values["ocr"], problems, line, today)
    kind = types.get(type_key(values["tipo_inconsistencia"])) if values["tipo_inconsistencia"] else None
    if values["tipo_inconsistencia"] and kind is None:
        problems.append(FieldProblem("tipo_inconsistencia", Problem.UNKNOWN_TYPE, line))
    if kind is not None and kind.requires_comment and not values["comentario"]:
        problems.append(FieldProblem("comentario", Problem.COMMENT_REQUIRED, line))
    if problems or clave is None or ocr is None:
        return None, problems
    return CleanEntry(numero_referencia=values["numero_referencia"].upper(), nombre=values["nombre"],
                      apellido_paterno=values["apellido_paterno"], apellido_materno=values["apellido_materno"],
                      clave_elector=clave, ocr=ocr, inconsistency=kind,
                      comentario=values["comentario"] if kind else ""), []


def _identifier(name: str, value: str, problems: list[FieldProblem], line: int | None, today: date) -> str | None:
    if any(p.field == name for p in problems):
        return None
    try:
        return parse_clave_elector(value, today=today).value if name == "clave_elector" else parse_ocr(value)
    except InvalidIdentifier as invalid:
        codes = _CLAVE_PROBLEMS if name == "clave_elector" else _OCR_PROBLEMS
        problems.append(FieldProblem(name, codes.get(invalid.code, Problem.REQUIRED), line))
        return None


# ---------------------------------------------------------------- scope and what is stored


def aspirant_in_scope(session: Session, aspirant_id: int, opl_ids: frozenset[int] | None) -> tuple[Aspirant, Process]:
    """The active aspirant, when its process belongs to one of the OPLs (None: any OPL, the command line)."""
    aspirant = session.get(Aspirant, aspirant_id)
    process = session.get(Process, aspirant.process_id) if aspirant else None
    if aspirant is None or process is None or not aspirant.is_active:
        raise NotFound
    if opl_ids is not None and process.opl_id not in opl_ids:
        raise NotFound
    return aspirant, process


def aspirant_choices(*, session: Session, opl_ids: frozenset[int]) -> list[AspirantChoice]:
    rows = session.exec(select(Aspirant, Process).where(Aspirant.process_id == Process.id,
                                                        col(Process.opl_id).in_(opl_ids),
                                                        col(Aspirant.is_active).is_(True))
                        .order_by(col(Process.name), col(Aspirant.full_name), col(Aspirant.id))).all()
    return [AspirantChoice(id=a.id or 0, name=a.full_name, process=p.name, process_id=p.id or 0) for a, p in rows]


def stored_forms(session: Session, aspirant_id: int, references: list[str] | None = None) -> dict[str, Stored]:
    """The aspirant's paper forms already stored (all, or those references), by reference."""
    query = (select(PaperForm, Support.folio, Support.clave_elector, CredentialReading.ocr)
             .where(PaperForm.aspirant_id == aspirant_id, PaperForm.support_id == Support.id,
                    Support.reading_id == CredentialReading.id))
    if references is not None:
        query = query.where(col(PaperForm.numero_referencia).in_(references))
    return {form.numero_referencia: Stored(folio=folio, fingerprint=(
        form.nombre, form.apellido_paterno, form.apellido_materno, clave, ocr, form.inconsistency_id,
        form.comentario)) for form, folio, clave, ocr in session.exec(query).all()}


def idempotency_key(aspirant_id: int, reference: str) -> str:
    digest = hashlib.sha256(reference.encode()).hexdigest()[:48]
    return f"paper-{aspirant_id}-{digest}"


# ---------------------------------------------------------------- storing


@dataclass(frozen=True)
class StoreRequest:
    aspirant_id: int
    process: Process
    entry: CleanEntry
    channel: Channel
    actor_account_id: int | None
    form_image_id: int | None = None
    paper_import_id: int | None = None


def store_entry(*, session: Session, request: StoreRequest, now: datetime) -> Support:
    """The support through the one intake, its PaperForm row and, when the form carries the OPL's own finding
    (a tipo de inconsistencia), that decision: invalid, con inconsistencia, contestable like any other."""
    entry = request.entry
    credential = CredentialData(source=CHANNEL_SOURCE[request.channel], clave_elector=entry.clave_elector,
                                ocr=entry.ocr)
    # The form has no date: it was signed inside the window, so a capture typed after the close is not a
    # "device clock" for the mesa de control to doubt.
    submission = SupportSubmission(idempotency_key=idempotency_key(request.aspirant_id, entry.numero_referencia),
                                   aspirant_id=request.aspirant_id, channel=request.channel, credential=credential,
                                   captured_at=min(now, request.process.ends_at))
    try:
        receipt = submit_support(session=session, submission=submission, actor_account_id=request.actor_account_id,
                                 now=now)
    except Refused as refused:
        raise NotFound from refused  # only an aspirant gone inactive meanwhile gets here
    support = session.get(Support, receipt.support_id)
    assert support is not None and support.id is not None
    kind = entry.inconsistency
    session.add(PaperForm(support_id=support.id, aspirant_id=request.aspirant_id,
                          numero_referencia=entry.numero_referencia, nombre=entry.nombre,
                          apellido_paterno=entry.apellido_paterno, apellido_materno=entry.apellido_materno,
                          inconsistency_id=kind.id if kind else None, comentario=entry.comentario,
                          form_image_id=request.form_image_id, paper_import_id=request.paper_import_id,
                          captured_by_account_id=request.actor_account_id, created_at=now))
    if kind is not None:
        _record_finding(session, support, kind, entry.comentario, request.actor_account_id, now)
    return support


def _record_finding(session: Session, support: Support, kind: InconsistencyType, comment: str,
                    actor_account_id: int | None, now: datetime) -> None:
    # The decision names the staff member who typed the form (None from the command line, which acts for nobody),
    # so the aspirant's pages and the desk read every inconsistency from one place.
    session.add(ReviewDecision(support_id=support.id or 0, reviewer_account_id=actor_account_id,
                               level=ReviewLevel.FIRST, outcome=ReviewOutcome.INVALID, inconsistency_id=kind.id,
                               comment=comment, decided_at=now))
    record_transition(session=session, support=support, to_status=SupportStatus.INVALID,
                      situacion=SituacionRegistral.CON_INCONSISTENCIA,
                      reason=f"Inconsistencia anotada en el formato en papel: {kind.label_es}",
                      actor_account_id=actor_account_id, now=now)
    record_audit(session, action="paper_inconsistency", actor_account_id=actor_account_id, object_type="support",
                 object_id=support.id, after=f"inconsistency={kind.code}")


def capture_paper_form(*, session: Session, capture: PaperCapture, opl_ids: frozenset[int], store: ImageStore,
                       actor_account_id: int, now: datetime) -> Captured:
    """One typed form. Raises NotFound (aspirant outside the staff's OPLs) or InvalidPaper (every problem)."""
    aspirant, process = aspirant_in_scope(session, capture.aspirant_id, opl_ids)
    assert aspirant.id is not None
    types = types_by_key(catalogue(session=session, opl_id=process.opl_id))
    entry, problems = validate_entry(capture.entry, types=types, today=now.date())
    if entry is None:
        raise InvalidPaper(problems)
    earlier = stored_forms(session, aspirant.id, [entry.numero_referencia]).get(entry.numero_referencia)
    if earlier is not None:
        if earlier.fingerprint == entry.fingerprint:
            return Captured(folio=earlier.folio, created=False)
        raise InvalidPaper([FieldProblem("numero_referencia", Problem.REFERENCE_TAKEN)], folio=earlier.folio)
    image = store_image(session=session, store=store, image=capture.form_image) if capture.form_image else None
    support = store_entry(session=session, now=now, request=StoreRequest(
        aspirant_id=aspirant.id, process=process, entry=entry, channel=Channel.PAPER,
        actor_account_id=actor_account_id, form_image_id=image.id if image else None))
    return Captured(folio=support.folio, created=True)


# ---------------------------------------------------------------- what the pages show


@dataclass(frozen=True)
class PaperPage:
    aspirants: list[AspirantChoice]
    types: list[InconsistencyType]
    processes: list[tuple[int, str]] = field(default_factory=list)  # (id, name): what the process filter offers

    def by_process(self) -> list[tuple[str, list[AspirantChoice]]]:
        """The aspirants grouped under their process's name, in the order listed (by process name)."""
        groups: dict[int, tuple[str, list[AspirantChoice]]] = {}
        for choice in self.aspirants:
            groups.setdefault(choice.process_id, (choice.process, []))[1].append(choice)
        return list(groups.values())


def paper_page(*, session: Session, opl_ids: frozenset[int], process_id: int | None = None) -> PaperPage:
    """The aspirants the staff may capture for (only the chosen process's, when one is chosen: another OPL's
    process lists none) and the inconsistency types of their OPLs (one per code). Only reads: a catalogue never
    seeded shows empty; `seed_catalogues` fills it."""
    rows = session.exec(select(InconsistencyType).where(col(InconsistencyType.opl_id).in_(opl_ids),
                                                        col(InconsistencyType.active).is_(True))
                        .order_by(col(InconsistencyType.sort_order), col(InconsistencyType.id))).all()
    types: dict[str, InconsistencyType] = {}
    for kind in rows:
        types.setdefault(kind.code, kind)
    aspirants = [choice for choice in aspirant_choices(session=session, opl_ids=opl_ids)
                 if process_id is None or choice.process_id == process_id]
    processes = session.exec(select(Process.id, Process.name).where(col(Process.opl_id).in_(opl_ids))
                             .order_by(col(Process.name), col(Process.id))).all()
    return PaperPage(aspirants=aspirants, types=list(types.values()),
                     processes=[(pid, name) for pid, name in processes if pid is not None])


def seed_catalogues(*, session: Session, opl_ids: frozenset[int]) -> None:
    for opl_id in sorted(opl_ids):
        catalogue(session=session, opl_id=opl_id)
