"""The demo people of the local OpenID provider (development and test only). Synthetic: no real person."""

from __future__ import annotations

from dataclasses import dataclass

from auth.roles import Role


@dataclass(frozen=True)
class DemoPerson:
    subject: str
    name: str
    email: str
    role: Role


DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("demo-ciudadana", "Ana Ciudadana Demo", "ciudadana@demo.registro.local", Role.CITIZEN),
    DemoPerson("demo-auxiliar", "Beto Auxiliar Demo", "auxiliar@demo.registro.local", Role.AUXILIARY),
    DemoPerson("demo-aspirante", "Carmen Aspirante Demo", "aspirante@demo.registro.local", Role.ASPIRANT),
    DemoPerson("demo-revisora", "Diana Revisora Demo", "revisora@demo.registro.local", Role.REVIEWER),
    DemoPerson("demo-admin-opl", "Ernesto Admin OPL Demo", "admin-opl@demo.registro.local", Role.OPL_ADMIN),
    DemoPerson("demo-admin-sistema", "Fernanda Admin Sistema Demo", "sistema@demo.registro.local", Role.SYSTEM_ADMIN),
)

LOCAL_PROVIDER = "local"
