"""Routes for the aspirant audience."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth.permissions import Permission
from web.security import requires


@requires(Permission.ASPIRANT_HOME_VIEW)
async def home(request: Request) -> Response:
    return request.app.state.templates.TemplateResponse(request, "aspirant/home.html", {})


routes = [
    Route("/aspirante", home, name="aspirant_home"),
]
