"""Roles a person can hold; each is granted within a scope (an OPL, or an aspirant's team)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CITIZEN = "citizen"
    AUXILIARY = "auxiliary"
    ASPIRANT = "aspirant"
    REVIEWER = "reviewer"
    OPL_ADMIN = "opl_admin"
    SYSTEM_ADMIN = "system_admin"


# Roles whose grant must name the OPL it applies to; an OPL admin of Sonora is not one of Durango.
OPL_SCOPED = frozenset({Role.REVIEWER, Role.OPL_ADMIN})
# Roles whose grant names an aspirant: the aspirant themself, and their auxiliaries.
ASPIRANT_SCOPED = frozenset({Role.ASPIRANT, Role.AUXILIARY})
