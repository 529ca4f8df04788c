"""One permission enum (`scope:resource:action`) and the one map from roles to permissions."""

from __future__ import annotations

from enum import StrEnum

from auth.roles import Role


class Permission(StrEnum):
    ACCOUNT_SELF_VIEW = "account:self:view"
    CITIZEN_HOME_VIEW = "citizen:home:view"
    CITIZEN_CODE_CREATE = "citizen:activation_code:create"
    CITIZEN_SUPPORT_CREATE = "citizen:support:create"
    CITIZEN_SUPPORT_VIEW = "citizen:support:view"
    FIELD_HOME_VIEW = "field:home:view"
    FIELD_SUPPORT_CREATE = "field:support:create"
    FIELD_SUPPORT_VIEW = "field:support:view"
    ASPIRANT_HOME_VIEW = "aspirant:home:view"
    ASPIRANT_AUXILIARY_MANAGE = "aspirant:auxiliary:manage"
    ASPIRANT_SUPPORT_VIEW = "aspirant:support:view"
    ASPIRANT_OBJECTION_CREATE = "aspirant:objection:create"
    ASPIRANT_REPORT_VIEW = "aspirant:report:view"
    REVIEW_HOME_VIEW = "review:home:view"
    REVIEW_SUPPORT_DECIDE = "review:support:decide"
    REVIEW_EVIDENCE_VIEW = "review:evidence:view"
    REVIEW_OBJECTION_RESOLVE = "review:objection:resolve"
    OPL_HOME_VIEW = "opl:home:view"
    OPL_PROCESS_MANAGE = "opl:process:manage"
    OPL_ASPIRANT_MANAGE = "opl:aspirant:manage"
    OPL_ROLL_IMPORT = "opl:roll:import"
    OPL_PAPER_CREATE = "opl:paper:create"
    OPL_REVIEWER_MANAGE = "opl:reviewer:manage"
    OPL_CATALOGUE_MANAGE = "opl:catalogue:manage"
    OPL_SIGN_IN_POLICY_MANAGE = "opl:sign_in_policy:manage"  # how the OPL's staff must sign in
    OPL_DECISION_DOUBLE_CHECK = "opl:decision:double_check"
    OPL_REPORT_VIEW = "opl:report:view"
    OPL_REPORT_EXPORT = "opl:report:export"  # citizens' names and claves for INE's roll office
    SYSTEM_HOME_VIEW = "system:home:view"
    SYSTEM_ACCOUNT_MANAGE = "system:account:manage"
    SYSTEM_AUDIT_VIEW = "system:audit:view"


_CITIZEN = frozenset({
    Permission.ACCOUNT_SELF_VIEW, Permission.CITIZEN_HOME_VIEW, Permission.CITIZEN_CODE_CREATE,
    Permission.CITIZEN_SUPPORT_CREATE, Permission.CITIZEN_SUPPORT_VIEW,
})
_REVIEWER = frozenset({
    Permission.ACCOUNT_SELF_VIEW, Permission.REVIEW_HOME_VIEW, Permission.REVIEW_SUPPORT_DECIDE,
    Permission.REVIEW_EVIDENCE_VIEW, Permission.REVIEW_OBJECTION_RESOLVE, Permission.OPL_REPORT_VIEW,
})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CITIZEN: _CITIZEN,
    Role.AUXILIARY: frozenset({
        Permission.ACCOUNT_SELF_VIEW, Permission.FIELD_HOME_VIEW, Permission.FIELD_SUPPORT_CREATE,
        Permission.FIELD_SUPPORT_VIEW,
    }),
    Role.ASPIRANT: frozenset({
        Permission.ACCOUNT_SELF_VIEW, Permission.ASPIRANT_HOME_VIEW, Permission.ASPIRANT_AUXILIARY_MANAGE,
        Permission.ASPIRANT_SUPPORT_VIEW, Permission.ASPIRANT_OBJECTION_CREATE, Permission.ASPIRANT_REPORT_VIEW,
    }),
    Role.REVIEWER: _REVIEWER,
    Role.OPL_ADMIN: _REVIEWER | {
        Permission.OPL_HOME_VIEW, Permission.OPL_PROCESS_MANAGE, Permission.OPL_ASPIRANT_MANAGE,
        Permission.OPL_ROLL_IMPORT, Permission.OPL_PAPER_CREATE, Permission.OPL_REVIEWER_MANAGE,
        Permission.OPL_CATALOGUE_MANAGE, Permission.OPL_DECISION_DOUBLE_CHECK, Permission.OPL_REPORT_EXPORT,
        Permission.OPL_SIGN_IN_POLICY_MANAGE,
    },
    Role.SYSTEM_ADMIN: frozenset({
        Permission.ACCOUNT_SELF_VIEW, Permission.SYSTEM_HOME_VIEW, Permission.SYSTEM_ACCOUNT_MANAGE,
        Permission.SYSTEM_AUDIT_VIEW,
    }),
}

# Where each role lands after signing in (route names); the first matching role wins.
ROLE_HOMES: tuple[tuple[Role, str], ...] = (
    (Role.SYSTEM_ADMIN, "system_home"),
    (Role.OPL_ADMIN, "opl_home"),
    (Role.REVIEWER, "review_home"),
    (Role.ASPIRANT, "aspirant_home"),
    (Role.AUXILIARY, "field_home"),
    (Role.CITIZEN, "citizen_home"),
)
