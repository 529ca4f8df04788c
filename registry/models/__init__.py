"""Every table of the domain, imported here so the metadata (and Alembic) sees the whole schema."""

from auth.models import Account, OAuthIdentity, RoleGrant, UserSession
from core.audit import AuditEvent, ChainHead, OutboxMessage
from registry.models.decode_cache import DecodeCacheEntry
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
    "ChainHead",
    "CredentialReading",
    "DailyReport",
    "DecodeCacheEntry",
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

# Every session chains the audit rows and support events it writes (imported here so that no process writes
# them unchained: whatever writes them imports the models).
import registry.audit_chain  # noqa: F401
