"""Routes for the opl audience."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth.permissions import Permission
from web.security import requires
from web.state import services


@requires(Permission.OPL_HOME_VIEW)
async def home(request: Request) -> Response:
    return services(request).templates.TemplateResponse(request, "opl/home.html", {})


routes = [
    Route("/opl", home, name="opl_home"),
]
