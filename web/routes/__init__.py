"""Routes per audience: public, citizen, field (auxiliaries), aspirant, review (mesa de control), OPL, system."""

from starlette.routing import BaseRoute

import web.convertors  # noqa: F401  (registers the `row_id` path convertor before any route is built)
from web.routes import (
    account,
    aspirant,
    aspirant_supports,
    auth,
    citizen,
    field,
    help_guides,
    open_data,
    operations,
    opl,
    opl_paper,
    opl_roll,
    public,
    report_changes,
    report_exports,
    reports,
    review,
    system,
    verify_support,
)

# The local OpenID provider's routes (web.routes.dev_oidc) are added by the app factory outside production only.
ALL_ROUTES: list[BaseRoute] = [
    *operations.routes,
    *public.routes,
    *open_data.routes,
    *verify_support.routes,
    *help_guides.routes,
    *auth.routes,
    *account.routes,
    *citizen.routes,
    *field.routes,
    *aspirant.routes,
    *aspirant_supports.routes,
    *review.routes,
    *opl.routes,
    *opl_roll.routes,
    *opl_paper.routes,
    *reports.routes,
    *report_changes.routes,
    *report_exports.routes,
    *system.routes,
]
