"""Routes for the system audience."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth.permissions import Permission
from web.security import requires
from web.state import services


@requires(Permission.SYSTEM_HOME_VIEW)
async def home(request: Request) -> Response:
    return services(request).templates.TemplateResponse(request, "system/home.html", {})


routes = [
    Route("/sistema", home, name="system_home"),
]
