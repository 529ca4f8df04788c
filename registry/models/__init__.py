"""Every table of the domain, imported here so the metadata (and Alembic) sees the whole schema."""

from auth.models import Account, OAuthIdentity, RoleGrant, UserSession
from core.audit import AuditEvent, OutboxMessage
from registry.models.geography import GeoUnit
from registry.models.jobs import Job
from registry.models.organisation import Aspirant, Auxiliary, Opl, PaperExceptionMunicipality, Process
from registry.models.reports import DailyReport, ReportDayCount, ReportPlaceCount, RollTally
from registry.models.roll import RollEntry, RollImport, RollRejection
from registry.models.supports import (
    ActivationCode,
    CredentialReading,
    InconsistencyType,
    Objection,
    PaperForm,
    PaperImport,
    PendingVerification,
    ReviewClaim,
    ReviewDecision,
    StoredImage,
    Support,
    SupportEvent,
    SupportFlag,
)

__all__ = [
    "Account",
    "ActivationCode",
    "Aspirant",
    "AuditEvent",
    "Auxiliary",
    "CredentialReading",
    "DailyReport",
    "GeoUnit",
    "InconsistencyType",
    "Job",
    "OAuthIdentity",
    "Objection",
    "Opl",
    "OutboxMessage",
    "PaperExceptionMunicipality",
    "PaperForm",
    "PaperImport",
    "PendingVerification",
    "Process",
    "ReportDayCount",
    "ReportPlaceCount",
    "ReviewClaim",
    "ReviewDecision",
    "RoleGrant",
    "RollEntry",
    "RollImport",
    "RollRejection",
    "RollTally",
    "StoredImage",
    "Support",
    "SupportEvent",
    "SupportFlag",
    "UserSession",
]
