"""Routes per audience: public, citizen, field (auxiliaries), aspirant, review (mesa de control), OPL, system."""

from starlette.routing import BaseRoute

from web.routes import aspirant, citizen, field, opl, public, review, system

ALL_ROUTES: list[BaseRoute] = [
    *public.routes,
    *citizen.routes,
    *field.routes,
    *aspirant.routes,
    *review.routes,
    *opl.routes,
    *system.routes,
]
