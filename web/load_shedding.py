"""Early load shedding: a worker process handles at most `REGISTRO_MAX_IN_FLIGHT` requests at once and answers
the next one at once with 503 and Retry-After, before any session lookup, form parsing or database work.

Why a bound and not a queue: past the point where the worker clears its backlog within a second or two, every
extra request only makes every other one slower, until clients time out and retry into a still deeper queue
(what took the UK petitions site down). A quick 503 with Retry-After costs microseconds, and the phones' field
queue waits as long as it says before sending the same batch again (static/js/field-queue.js).

Health and metrics probes are never shed (a load balancer must see a busy worker as alive), nor static files (a
page already sent needs its stylesheet; they are read from disk, no database)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from web.i18n import gettext as _
from web.scope_headers import scope_header

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
EXEMPT_PREFIXES = ("/static/",)
RETRY_AFTER_SECONDS = 2  # a worker that is full clears its requests in well under a second or two


def wants_json(scope: Scope) -> bool:
    """The phones' API and scripts get JSON; browsers get a page."""
    if str(scope.get("path", "")).startswith("/api/"):
        return True
    return "application/json" in (scope_header(scope, b"accept") or "")


def overloaded(request: Request, *, retry_after: int) -> Response:
    """503 with Retry-After and what to do, in the user's language: JSON for the API, a page for browsers."""
    message = _("El servicio está muy ocupado en este momento.")
    wait = _("No se perdió nada: espera unos segundos y vuelve a intentarlo.")
    headers = {"Retry-After": str(retry_after), "Cache-Control": "no-store"}
    if wants_json(request.scope):
        body = {"error": "overloaded", "ok": False, "message": f"{message} {wait}", "advice": f"{message} {wait}",
                "retry_after": retry_after}
        return JSONResponse(body, status_code=503, headers=headers)
    templates = request.app.state.templates
    # Inline: a full worker's refusal must not wait for a free worker thread.
    response: Response = templates.TemplateResponse(request, "errors/busy.html", {"message": message, "wait": wait},
                                                    status_code=503, headers=headers, inline=True)
    return response


class InFlightLimitMiddleware:
    """Counts this process's HTTP requests in progress. A plain integer is enough: one event loop per process
    changes it, and nothing awaits between the check and the increment."""

    def __init__(self, app: ASGIApp, *, max_in_flight: int, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after = retry_after
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _exempt(str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            # The body is not read: close the connection rather than leave the client's upload in the socket.
            response = overloaded(Request(scope, receive), retry_after=self.retry_after)
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


def _exempt(path: str) -> bool:
    return path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)
