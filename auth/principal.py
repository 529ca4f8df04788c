"""Who is making a request: the account and its role grants, with the scope questions services ask."""

from __future__ import annotations

from dataclasses import dataclass, field

from auth.permissions import ROLE_HOMES, ROLE_PERMISSIONS, Permission
from auth.roles import Role


@dataclass(frozen=True)
class Grant:
    role: Role
    opl_id: int | None = None
    aspirant_id: int | None = None


@dataclass(frozen=True)
class Principal:
    account_id: int
    display_name: str
    grants: tuple[Grant, ...] = field(default_factory=tuple)

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(grant.role for grant in self.grants)

    def has(self, permission: Permission) -> bool:
        return any(permission in ROLE_PERMISSIONS[grant.role] for grant in self.grants)

    def opl_ids(self, permission: Permission) -> frozenset[int]:
        """The OPLs in which this person holds `permission` (an OPL admin of Sonora is not one of Durango)."""
        return frozenset(
            g.opl_id for g in self.grants if g.opl_id is not None and permission in ROLE_PERMISSIONS[g.role]
        )

    def aspirant_ids(self, permission: Permission) -> frozenset[int]:
        return frozenset(
            g.aspirant_id for g in self.grants
            if g.aspirant_id is not None and permission in ROLE_PERMISSIONS[g.role]
        )

    def home_route(self) -> str:
        for role, route_name in ROLE_HOMES:
            if role in self.roles:
                return route_name
        return "citizen_home"
