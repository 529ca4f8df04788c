"""Workflow states and categories, each with the named sets the services and reports use."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    CITIZEN = "citizen"
    AUXILIARY = "auxiliary"
    PAPER = "paper"
    BULK_IMPORT = "bulk_import"


class SupportStatus(StrEnum):
    RECEIVED = "received"  # recibido
    VERIFYING = "verifying"  # en verificación (roll match under way)
    IN_REVIEW = "in_review"  # en mesa de control
    VALID = "valid"  # cuenta para el umbral
    INVALID = "invalid"  # no cuenta (motivo en la situación registral o la inconsistencia)
    CONTESTED = "contested"  # garantía de audiencia: the aspirant objected, awaiting resolution


PENDING = frozenset({SupportStatus.RECEIVED, SupportStatus.VERIFYING, SupportStatus.IN_REVIEW})
NEEDS_REVIEW = frozenset({SupportStatus.IN_REVIEW, SupportStatus.CONTESTED})
FINAL = frozenset({SupportStatus.VALID, SupportStatus.INVALID})
COUNTABLE = frozenset({SupportStatus.VALID})
CONTESTABLE = frozenset({SupportStatus.INVALID})


class SituacionRegistral(StrEnum):
    """Result of matching against the Lista Nominal (LGIPE 385; INE's published categories)."""

    SIN_VERIFICAR = "sin_verificar"
    EN_LISTA_NOMINAL = "en_lista_nominal"
    DUPLICADO_MISMO_ASPIRANTE = "duplicado_mismo_aspirante"
    DUPLICADO_OTRO_ASPIRANTE = "duplicado_otro_aspirante"
    EN_PADRON_NO_EN_LISTA = "en_padron_no_en_lista"
    BAJA = "baja"
    DATOS_NO_ENCONTRADOS = "datos_no_encontrados"
    FUERA_DE_AMBITO = "fuera_de_ambito"
    FUERA_REGIMEN_EXCEPCION = "fuera_regimen_excepcion"
    CON_INCONSISTENCIA = "con_inconsistencia"


COUNTS_FOR_THRESHOLD = frozenset({SituacionRegistral.EN_LISTA_NOMINAL})


class ScopeKind(StrEnum):
    STATE = "state"
    DISTRICT = "district"
    MUNICIPALITY = "municipality"


class GeoKind(StrEnum):
    STATE = "state"
    DISTRICT = "district"
    MUNICIPALITY = "municipality"
    SECCION = "seccion"


class InvitationState(StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


CAN_CAPTURE = frozenset({InvitationState.ACTIVE})


class ImageKind(StrEnum):
    BACK = "back"
    FRONT = "front"
    LIVE_PHOTO = "live_photo"
    SIGNATURE = "signature"
    PAPER_FORM = "paper_form"


class ReadingSource(StrEnum):
    PIPELINE = "pipeline"  # read from the photo by capture/
    MANUAL = "manual"  # typed by a person after the pipeline could not read it (captura manual)
    PAPER = "paper"
    BULK = "bulk"


class RollStatus(StrEnum):
    """A citizen's standing in the roll file: in the Lista Nominal, in the Padrón only, or removed (baja)."""

    VIGENTE = "vigente"
    PADRON_SIN_LISTA = "padron_sin_lista"
    BAJA = "baja"


class BajaReason(StrEnum):
    DEFUNCION = "defuncion"
    SUSPENSION_DERECHOS = "suspension_derechos"
    PERDIDA_VIGENCIA = "perdida_vigencia"


class RollImportState(StrEnum):
    LOADING = "loading"  # rows going in; invisible to readers and to the compulsa
    CURRENT = "current"  # the one roll in force for its OPL
    SUPERSEDED = "superseded"  # replaced by a later cut-off; its rows are gone
    FAILED = "failed"  # stopped, cancelled or refused; the previous roll stayed in force


class JobKind(StrEnum):
    ROLL_IMPORT = "roll_import"
    VERIFY = "verify"  # the compulsa of a whole process (or of every process of an OPL)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_JOBS = frozenset({JobState.QUEUED, JobState.RUNNING})
FINISHED_JOBS = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


class ReviewOutcome(StrEnum):
    VALID = "valid"
    INVALID = "invalid"


class ReviewLevel(StrEnum):
    """First look at the mesa de control, or the second: objections and decisions marked for a double check."""

    FIRST = "first"
    SECOND = "second"


class ReviewFlag(StrEnum):
    """Why a support matched to the roll still waits for a person at the mesa de control (each explained on the
    item). Unflagged supports matched to the roll count without review."""

    MANUAL_CAPTURE = "manual_capture"  # identifiers typed by the auxiliary, not read from the credential
    IMAGE_REUSED = "image_reused"  # the same credential photo (byte for byte) is in another support
    CAPTURE_RATE = "capture_rate"  # the auxiliary captured faster than a person can, sustained
    DEVICE_TIME = "device_time"  # the phone's clock was far from the server's
    QR_OTHER_CIC = "qr_other_cic"  # the credential's QR token was seen before with a different CIC
    DISOWNED = "disowned"  # the citizen reported they never gave this support
    CLAIMED = "claimed"  # the credential was claimed from another account (registry.claims)
    SAMPLE = "sample"  # drawn for the OPL's random sample of ordinary supports


class SecondLook(StrEnum):
    """A first-level decision marked for a double check, until a second reviewer confirms or reverses it."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    REVERSED = "reversed"


class ObjectionState(StrEnum):
    FILED = "filed"
    UPHELD = "upheld"  # the support is restored
    DISMISSED = "dismissed"


OPEN_OBJECTIONS = frozenset({ObjectionState.FILED})


class SignatureMethod(StrEnum):
    DRAWN = "drawn"
    ACCESSIBLE_ALTERNATIVE = "accessible_alternative"  # e.g. a person who cannot draw a signature
