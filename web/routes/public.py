"""Pages anyone may see: the landing page that explains the site to each kind of user."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from web.security import public
from web.state import services


@public
async def home(request: Request) -> Response:
    return services(request).templates.TemplateResponse(request, "public/index.html", {})


@public
async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


routes = [
    Route("/", home, name="home"),
    Route("/salud", health, name="health"),
]
