"""One credential record from whatever a channel has: the server's reading of a back photo, or identifiers a
person typed (captura manual; paper forms next). The same rules everywhere: the reading counts only when the MRZ
check digits held, an expired credential is refused (vigencia), and each typed identifier is judged by its one
validator in capture.identifiers. `store_reading` writes the one CredentialReading row a support points to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from capture.identifiers import IdentifierError, InvalidIdentifier, parse_cic, parse_clave_elector, parse_ocr
from capture.pipeline import g_or_h_layout
from capture.result import BackReading, ModelHint, Reason
from registry.intake.refusals import Refusal, Refused
from registry.models import CredentialReading
from registry.states import ImageKind, ReadingSource

# Photo failures that a typed identifier cannot make up for: the file itself is unusable.
BAD_FILE = frozenset({Reason.NOT_AN_IMAGE, Reason.UNSUPPORTED_FORMAT, Reason.TOO_LARGE, Reason.TOO_MANY_PIXELS,
                      Reason.IMAGE_TRUNCATED, Reason.IMAGE_TOO_SMALL})


@dataclass(frozen=True)
class CredentialData:
    """What identifies the credential, as the server itself read it (or as a person typed it)."""

    source: ReadingSource
    cic: str | None = None
    identificador_ciudadano: str | None = None
    ocr: str | None = None
    clave_elector: str | None = None
    qr_text: str | None = None
    model_hint: str | None = None
    expiry: date | None = None
    back_image_id: int | None = None
    front_image_id: int | None = None


@dataclass(frozen=True)
class TypedIdentifiers:
    cic: str = ""
    clave_elector: str = ""
    ocr: str = ""

    @property
    def empty(self) -> bool:
        return not (self.cic.strip() or self.clave_elector.strip() or self.ocr.strip())


@dataclass(frozen=True)
class Credential:
    data: CredentialData
    manual: bool  # typed, not read: the mesa de control looks closer


def credential_from_reading(reading: BackReading, typed: TypedIdentifiers | None, *, today: date) -> Credential:
    """The server's reading when the MRZ was read (its check digits make the CIC trustworthy; typed values are
    then ignored); otherwise the typed identifiers, validated, as a captura manual. Raises Refused: BAD_IMAGE,
    CREDENTIAL_EXPIRED, UNREADABLE (nothing typed), INVALID_IDENTIFIER."""
    if reading.reason in BAD_FILE:
        raise Refused(Refusal.BAD_IMAGE, photo=ImageKind.BACK, reason=reading.reason)
    if reading.expired:
        raise Refused(Refusal.CREDENTIAL_EXPIRED, reason=Reason.CREDENTIAL_EXPIRED)
    qr_text = reading.url.text if reading.url else None
    fields = reading.fields
    if reading.mrz_ok and fields is not None:
        return Credential(CredentialData(
            source=ReadingSource.PIPELINE, cic=fields.cic, identificador_ciudadano=fields.identificador_ciudadano,
            ocr=fields.ocr, qr_text=qr_text, model_hint=_model_hint(reading), expiry=fields.expiry), manual=False)
    if typed is None or typed.empty:
        raise Refused(Refusal.UNREADABLE, reason=reading.reason or Reason.MRZ_UNREADABLE)
    return Credential(typed_credential(typed, today=today, qr_text=qr_text), manual=True)


def _model_hint(reading: BackReading) -> str | None:
    hint = reading.fields.model_hint if reading.fields else ModelHint.UNKNOWN
    if hint is ModelHint.UNKNOWN and g_or_h_layout(reading.qr):
        hint = ModelHint.E_TO_H
    return None if hint is ModelHint.UNKNOWN else hint.value


def typed_credential(typed: TypedIdentifiers, *, today: date, qr_text: str | None = None) -> CredentialData:
    """CIC, or clave de elector + OCR, validated with capture.identifiers; raises Refused naming the first
    identifier that failed."""
    try:
        cic = parse_cic(typed.cic) if typed.cic.strip() else None
        clave = parse_clave_elector(typed.clave_elector, today=today).value if typed.clave_elector.strip() else None
        ocr = parse_ocr(typed.ocr) if typed.ocr.strip() else None
    except InvalidIdentifier as invalid:
        raise Refused(Refusal.INVALID_IDENTIFIER, identifier=invalid.kind, problem=invalid.code) from invalid
    if cic is None and (clave is None or ocr is None):
        missing = "ocr" if clave else "clave_elector" if ocr else "cic"
        raise Refused(Refusal.INVALID_IDENTIFIER, identifier=missing, problem=IdentifierError.EMPTY)
    return CredentialData(source=ReadingSource.MANUAL, cic=cic, clave_elector=clave, ocr=ocr, qr_text=qr_text)


def store_reading(session: Session, credential: CredentialData) -> CredentialReading:
    """The credential record as one row, in the caller's transaction."""
    row = CredentialReading(**{k: getattr(credential, k) for k in CredentialData.__dataclass_fields__})
    session.add(row)
    session.flush()
    return row
