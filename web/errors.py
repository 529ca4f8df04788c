"""Error pages in the user's language: never a stack trace, whatever went wrong."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from web.i18n import gettext as _
from web.log_privacy import log, log_unhandled, scrub_target
from web.state import services

# A bucket or disk that failed usually comes back within a minute (a restart, a failover): the phones' queues
# and people wait this long before sending the same thing again.
STORAGE_RETRY_AFTER_SECONDS = 30

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
        request, template, {"status_code": status_code}, status_code=status_code,
        inline=True,  # rendered here: the server-error middleware falls back to plain text if this fails
    )


async def http_exception(request: Request, exc: Exception) -> Response:
    status_code = exc.status_code if isinstance(exc, HTTPException) else 500
    return render_error(request, status_code)


async def server_error(request: Request, exc: Exception) -> Response:
    # Only errors raised outside web.server_errors' middleware get here. No message, query or form is logged:
    # they may carry personal data (see web.log_privacy).
    log_unhandled(request.method, request.url.path, exc)
    return render_error(request, 500)


async def storage_unavailable(request: Request, exc: Exception) -> Response:
    """registry.images.ImageStoreUnavailable: the photos could not be stored or read, so the service's transaction
    rolled back and nothing was acknowledged. 503 with Retry-After, saying plainly that this submission was not
    saved, so nobody leaves believing their support is in (never a 500)."""
    log.warning("image store unavailable on %s %s (%s)", request.method, scrub_target(request.url.path), exc)
    message = _("En este momento no podemos guardar ni mostrar fotos.")
    wait = (_("Inténtalo de nuevo en un momento.") if request.method in ("GET", "HEAD")
            else _("Lo que enviaste no se guardó: espera un minuto y vuelve a enviarlo."))
    headers = {"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if _wants_json(request):
        body = {"error": "storage_unavailable", "ok": False, "message": f"{message} {wait}",
                "advice": f"{message} {wait}", "retry_after": STORAGE_RETRY_AFTER_SECONDS}
        return JSONResponse(body, status_code=503, headers=headers)
    context = {"status_code": 503, "message": message, "wait": wait}
    response: Response = services(request).templates.TemplateResponse(
        request, "errors/unavailable.html", context, status_code=503, headers=headers, inline=True)
    return response
