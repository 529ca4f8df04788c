"""Supports (apoyos), what was read from the credential, their append-only events, review and objections."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.clock import utcnow
from core.columns import enum_type, utc_datetime
from core.sealing import BLIND_INDEX_CHARS, keep_blind_indexes, sealed
from registry.states import (
    Channel,
    ImageKind,
    ObjectionState,
    ReadingSource,
    ReviewFlag,
    ReviewLevel,
    ReviewOutcome,
    SecondLook,
    SignatureMethod,
    SituacionRegistral,
    SupportStatus,
)


class StoredImage(SQLModel, table=True):
    """An image kept in the (encrypted) image store; the row holds no pixels, only the key and hash."""

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, index=True)
    kind: ImageKind = Field(sa_type=enum_type(ImageKind))
    storage_key: str = Field(max_length=200, unique=True)
    content_type: str = Field(default="image/jpeg", max_length=40)
    byte_size: int
    width: int
    height: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())


class CredentialReading(SQLModel, table=True):
    """What was read from (or typed for) one credential; the device's own reading is never trusted."""

    # The identifiers are sealed (core/sealing.py); look-ups go through their blind indexes.
    __table_args__ = (
        sa.Index("ix_credentialreading_cic", "cic_bidx"),
        # The compulsa finds the other supports of a citizen by the roll's OCR and identificador ciudadano too.
        sa.Index("ix_credentialreading_ocr", "ocr_bidx"),
        sa.Index("ix_credentialreading_identificador", "identificador_bidx"),
        # The mesa de control's flags: a QR token seen with another CIC, a photo used in another support.
        sa.Index("ix_credentialreading_qr_text", "qr_text_bidx"),
        sa.Index("ix_credentialreading_back_image", "back_image_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: ReadingSource = Field(sa_type=enum_type(ReadingSource))
    cic: str | None = Field(default=None, sa_type=sealed("credentialreading", "cic"))
    identificador_ciudadano: str | None = Field(
        default=None, sa_type=sealed("credentialreading", "identificador_ciudadano"))
    ocr: str | None = Field(default=None, sa_type=sealed("credentialreading", "ocr"))
    clave_elector: str | None = Field(default=None, sa_type=sealed("credentialreading", "clave_elector"))
    # the small QR's raw URL: an opaque token
    qr_text: str | None = Field(default=None, sa_type=sealed("credentialreading", "qr_text"))
    cic_bidx: str | None = Field(default=None, max_length=BLIND_INDEX_CHARS)
    identificador_bidx: str | None = Field(default=None, max_length=BLIND_INDEX_CHARS)
    ocr_bidx: str | None = Field(default=None, max_length=BLIND_INDEX_CHARS)
    clave_elector_bidx: str | None = Field(default=None, max_length=BLIND_INDEX_CHARS)
    qr_text_bidx: str | None = Field(default=None, max_length=BLIND_INDEX_CHARS)
    model_hint: str | None = Field(default=None, max_length=8)  # "D" or "E-H" from the MRZ layout
    expiry: date | None = None
    back_image_id: int | None = Field(default=None, foreign_key="storedimage.id")
    front_image_id: int | None = Field(default=None, foreign_key="storedimage.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())


class Support(SQLModel, table=True):
    __table_args__ = (
        # No index holds a column the compulsa writes (status, situación, citizen, geography): PostgreSQL then
        # rewrites a verified support in place (a HOT update, the table keeps free room in each page) instead of
        # adding an entry to each of its indexes, which made verifying a million supports three times slower.
        sa.Index("ix_support_aspirant", "aspirant_id"),
        sa.Index("ix_support_reading", "reading_id"),
        sa.Index("ix_support_process_received", "process_id", "received_at"),
        sa.Index("ix_support_cic", "cic_bidx"),
        sa.Index("ix_support_clave_elector", "clave_elector_bidx"),
        sa.Index("ix_support_auxiliary_captured", "auxiliary_id", "captured_at"),  # the capture-pace flag
    )

    id: int | None = Field(default=None, primary_key=True)
    folio: str = Field(max_length=20, unique=True)
    idempotency_key: str = Field(max_length=80, unique=True)
    process_id: int = Field(foreign_key="process.id")
    aspirant_id: int = Field(foreign_key="aspirant.id")
    channel: Channel = Field(sa_type=enum_type(Channel))
    citizen_account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    auxiliary_id: int | None = Field(default=None, foreign_key="auxiliary.id", index=True)
    reading_id: int = Field(foreign_key="credentialreading.id")
    # Denormalised from the reading, sealed: the duplicate checks and roll match look up their blind indexes.
    cic: str | None = Field(default=None, sa_type=sealed("support", "cic"))
    clave_elector: str | None = Field(default=None, sa_type=sealed("support", "clave_elector"))
    cic_bidx: str | None = Field(default=None, max_length=BLIND_INDEX_CHARS)
    clave_elector_bidx: str | None = Field(default=None, max_length=BLIND_INDEX_CHARS)
    live_photo_id: int | None = Field(default=None, foreign_key="storedimage.id")
    signature_image_id: int | None = Field(default=None, foreign_key="storedimage.id")
    signature_method: SignatureMethod = Field(
        default=SignatureMethod.DRAWN, sa_type=enum_type(SignatureMethod)
    )
    manual_capture: bool = False  # captura manual: identifiers typed, not read; mesa de control looks closer
    device_time_suspect: bool = False  # captured_at far outside the window or in the future
    captured_at: datetime = Field(sa_type=utc_datetime())  # device time
    received_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())  # server time
    received_day: date | None = None  # received_at's date in the process's time zone: the reports' day
    status: SupportStatus = Field(default=SupportStatus.RECEIVED, sa_type=enum_type(SupportStatus))
    situacion_registral: SituacionRegistral = Field(
        default=SituacionRegistral.SIN_VERIFICAR, sa_type=enum_type(SituacionRegistral)
    )
    situacion_detail: str | None = Field(default=None, max_length=40)  # e.g. the baja's reason
    # What the compulsa found in the Lista Nominal: the citizen (the blind index of the roll's clave de elector,
    # which several credentials of one person share) and where they are registered, for the LGIPE 385 rules and
    # the reports.
    citizen_key: str | None = Field(default=None, max_length=BLIND_INDEX_CHARS)
    state_code: int | None = None
    district: int | None = None
    municipality: int | None = None
    seccion: int | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())


class PendingVerification(SQLModel, table=True):
    """A support received and not yet matched against the roll: written with the support, removed by the
    compulsa that verifies it. The worker's queue, so finding new supports never needs an index on status."""

    support_id: int = Field(primary_key=True, foreign_key="support.id", sa_column_kwargs={"autoincrement": False})
    process_id: int = Field(foreign_key="process.id", index=True)


class SupportEvent(SQLModel, table=True):
    """Append-only: every status change is one row, and reports are derived from these rows."""

    __table_args__ = (
        sa.Index("ix_supportevent_support_at", "support_id", "at"),
        sa.Index("ix_supportevent_at", "at"),  # "what changed" between two moments starts from these events
        sa.Index("ux_supportevent_chain", "chain_stream", "chain_seq", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    support_id: int = Field(foreign_key="support.id")
    from_status: SupportStatus | None = Field(default=None, sa_type=enum_type(SupportStatus))
    to_status: SupportStatus = Field(sa_type=enum_type(SupportStatus))
    situacion_registral: SituacionRegistral = Field(sa_type=enum_type(SituacionRegistral))
    reason: str = Field(default="", max_length=500)
    actor_account_id: int | None = Field(default=None, foreign_key="account.id")
    at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())
    # Where the support stands after the event (the roll's place of the citizen; None: not located), so a report
    # cell at any past moment can be rebuilt from the events alone.
    state_code: int | None = None
    district: int | None = None
    municipality: int | None = None
    seccion: int | None = None
    # Hash chain (registry/audit_chain.py): assigned when the transaction commits, never by the writer.
    chain_stream: str | None = Field(default=None, max_length=40)
    chain_seq: int | None = None
    prev_hash: str | None = Field(default=None, max_length=64)
    row_hash: str | None = Field(default=None, max_length=64)


class ActivationCode(SQLModel, table=True):
    """A 24-hour code bound to one account and one credential; only its hash is stored."""

    __table_args__ = (sa.Index("ix_activationcode_account_open", "account_id", "used_at"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    code_hash: str = Field(max_length=64, unique=True)
    cic: str = Field(sa_type=sealed("activationcode", "cic"))
    qr_text: str = Field(sa_type=sealed("activationcode", "qr_text"))
    cic_bidx: str = Field(default="", max_length=BLIND_INDEX_CHARS, index=True)
    qr_text_bidx: str = Field(default="", max_length=BLIND_INDEX_CHARS, index=True)
    reading_id: int | None = Field(default=None, foreign_key="credentialreading.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())
    expires_at: datetime = Field(sa_type=utc_datetime())
    used_at: datetime | None = Field(default=None, sa_type=utc_datetime())
    invalidated_at: datetime | None = Field(default=None, sa_type=utc_datetime())
    failed_attempts: int = 0


class InconsistencyType(SQLModel, table=True):
    """The mesa de control's catalogue of inconsistencies: data, one catalogue per OPL, editable by its admin."""

    __table_args__ = (sa.UniqueConstraint("opl_id", "code", name="uq_inconsistencytype_opl_code"),)

    id: int | None = Field(default=None, primary_key=True)
    opl_id: int = Field(foreign_key="opl.id", index=True)
    code: str = Field(max_length=40)
    label_es: str = Field(max_length=200)
    label_en: str = Field(max_length=200)
    requires_comment: bool = False
    double_check: bool = False  # every decision with this inconsistency goes to the second-level queue
    active: bool = True
    sort_order: int = 0


class ReviewDecision(SQLModel, table=True):
    """A reviewer's decision on a support at the mesa de control (first level), or a second reviewer's."""

    id: int | None = Field(default=None, primary_key=True)
    support_id: int = Field(foreign_key="support.id", index=True)
    # None: an inconsistency noted on a paper form imported with the command line, which acts for no account.
    reviewer_account_id: int | None = Field(default=None, foreign_key="account.id")
    level: ReviewLevel = Field(default=ReviewLevel.FIRST, sa_type=enum_type(ReviewLevel))
    outcome: ReviewOutcome = Field(sa_type=enum_type(ReviewOutcome))
    inconsistency_id: int | None = Field(default=None, foreign_key="inconsistencytype.id")
    comment: str = Field(default="", max_length=2000)
    # Set when the OPL (or the inconsistency's type) asks for a double check of this decision.
    second_look: SecondLook | None = Field(default=None, sa_type=enum_type(SecondLook), index=True)
    decided_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())


class Objection(SQLModel, table=True):
    """Garantía de audiencia: an aspirant contests a rejected support; a reviewer answers it at the desk."""

    id: int | None = Field(default=None, primary_key=True)
    support_id: int = Field(foreign_key="support.id", index=True)
    filed_by_account_id: int = Field(foreign_key="account.id")
    argument: str = Field(max_length=4000)
    state: ObjectionState = Field(default=ObjectionState.FILED, sa_type=enum_type(ObjectionState))
    filed_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())
    resolved_by_account_id: int | None = Field(default=None, foreign_key="account.id")
    resolved_at: datetime | None = Field(default=None, sa_type=utc_datetime())
    resolution: str = Field(default="", max_length=2000)


class SupportFlag(SQLModel, table=True):
    """One reason a support goes to the mesa de control even when the roll matches (see ReviewFlag)."""

    support_id: int = Field(primary_key=True, foreign_key="support.id", sa_column_kwargs={"autoincrement": False})
    flag: ReviewFlag = Field(primary_key=True, sa_type=enum_type(ReviewFlag))
    detail: str = Field(default="", max_length=300)  # says why, never quotes personal data
    at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())


class ReviewClaim(SQLModel, table=True):
    """A reviewer holds an item for a while; the primary key makes two reviewers holding one item impossible."""

    support_id: int = Field(primary_key=True, foreign_key="support.id", sa_column_kwargs={"autoincrement": False})
    reviewer_account_id: int = Field(foreign_key="account.id", index=True)
    level: ReviewLevel = Field(sa_type=enum_type(ReviewLevel))
    claimed_at: datetime = Field(sa_type=utc_datetime())
    expires_at: datetime = Field(sa_type=utc_datetime(), index=True)


class PaperImport(SQLModel, table=True):
    """One bulk file of paper supports, imported all or nothing."""

    id: int | None = Field(default=None, primary_key=True)
    aspirant_id: int = Field(foreign_key="aspirant.id", index=True)
    file_name: str = Field(max_length=200)
    sha256: str = Field(max_length=64)
    rows_added: int = 0
    rows_already_present: int = 0
    imported_by_account_id: int | None = Field(default=None, foreign_key="account.id")
    imported_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())


class PaperForm(SQLModel, table=True):
    """What the OPL typed from one paper support form (seed 002's fields); (aspirant, número de referencia) is
    unique, so the same form typed or imported twice is stored once."""

    __table_args__ = (sa.UniqueConstraint("aspirant_id", "numero_referencia", name="uq_paperform_reference"),)

    id: int | None = Field(default=None, primary_key=True)
    support_id: int = Field(foreign_key="support.id", unique=True)
    aspirant_id: int = Field(foreign_key="aspirant.id")
    numero_referencia: str = Field(max_length=40)
    nombre: str = Field(sa_type=sealed("paperform", "nombre"))
    apellido_paterno: str = Field(default="", sa_type=sealed("paperform", "apellido_paterno"))
    apellido_materno: str = Field(default="", sa_type=sealed("paperform", "apellido_materno"))
    inconsistency_id: int | None = Field(default=None, foreign_key="inconsistencytype.id")
    comentario: str = Field(default="", max_length=2000)
    form_image_id: int | None = Field(default=None, foreign_key="storedimage.id")
    paper_import_id: int | None = Field(default=None, foreign_key="paperimport.id", index=True)
    captured_by_account_id: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())


def _refuse_changes(*_args: object) -> None:
    raise RuntimeError("support events are append-only: add a new event instead")


# An event once written is history: the ORM refuses to rewrite or delete it.
sa.event.listen(SupportEvent, "before_update", _refuse_changes)
sa.event.listen(SupportEvent, "before_delete", _refuse_changes)


keep_blind_indexes(CredentialReading, {
    "cic": ("cic_bidx", "cic"), "identificador_ciudadano": ("identificador_bidx", "identificador"),
    "ocr": ("ocr_bidx", "ocr"), "clave_elector": ("clave_elector_bidx", "clave_elector"),
    "qr_text": ("qr_text_bidx", "qr")})
keep_blind_indexes(Support, {"cic": ("cic_bidx", "cic"), "clave_elector": ("clave_elector_bidx", "clave_elector")})
keep_blind_indexes(ActivationCode, {"cic": ("cic_bidx", "cic"), "qr_text": ("qr_text_bidx", "qr")})
