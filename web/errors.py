"""Error pages in the user's language: never a stack trace, whatever went wrong."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from web.log_privacy import log_unhandled
from web.state import services

_PAGES = {403: "errors/403.html", 404: "errors/404.html", 405: "errors/404.html", 413: "errors/too_large.html",
          429: "errors/too_many.html"}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def render_error(request: Request, status_code: int, template: str | None = None) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": status_code}, status_code=status_code)
    template = template or _PAGES.get(status_code, "errors/error.html")
    templates = services(request).templates
    return templates.TemplateResponse(
        request, template, {"status_code": status_code}, status_code=status_code
    )


async def http_exception(request: Request, exc: Exception) -> Response:
    status_code = exc.status_code if isinstance(exc, HTTPException) else 500
    return render_error(request, status_code)


async def server_error(request: Request, exc: Exception) -> Response:
    # Only errors raised outside web.server_errors' middleware get here. No message, query or form is logged:
    # they may carry personal data (see web.log_privacy).
    log_unhandled(request.method, request.url.path, exc)
    return render_error(request, 500)
