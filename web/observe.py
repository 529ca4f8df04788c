"""The outermost middleware: a request id for every request (echoed in `X-Request-ID`, on every log line written
while the request is handled), one access log line, and the request metrics.

The access line names the method, the route *template*, the status, the time and the request id: never the path
as sent (ids, tokens, folios), never the query string, never the client's address. Probe answers (/healthz,
/readyz, /metrics that went well) are logged at DEBUG, so a probe every few seconds does not bury the traffic."""

from __future__ import annotations

import logging
from time import perf_counter

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.logs import ACCESS_LOGGER, REQUEST_ID_HEADER, accepted_request_id, request_id_bound
from web.metrics import observe_request, route_template
from web.scope_headers import scope_header

PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
access_log = logging.getLogger(ACCESS_LOGGER)


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_request_id(scope_header(scope, b"x-request-id"))
        status = 500  # what the client gets if the app ends without starting a response
        started = perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with request_id_bound(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                _record(scope, status, perf_counter() - started)


def _record(scope: Scope, status: int, seconds: float) -> None:
    method, route = str(scope.get("method", "")), route_template(scope)
    observe_request(route=route, method=method, status=status, seconds=seconds)
    level = logging.DEBUG if route in PROBES and status < 400 else logging.INFO
    duration_ms = round(seconds * 1000, 1)
    access_log.log(level, "%s %s %s %.1f ms", method, route, status, duration_ms,
                   extra={"method": method, "route": route, "status": status, "duration_ms": duration_ms})
