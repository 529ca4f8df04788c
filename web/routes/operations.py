"""Machine-facing endpoints for operations: liveness, readiness and Prometheus metrics. Cookieless (no session is
looked up, no cookie set: web/security.py), never rate limited nor shed (web/load_shedding.py), never cached."""

from __future__ import annotations

import anyio
import anyio.to_thread
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from registry.operations import Readiness, check_readiness
from web.metrics import exposition, scrape_allowed
from web.security import public
from web.state import services

NO_STORE = {"Cache-Control": "no-store"}
READY_TIMEOUT_SECONDS = 2.5  # a database that hangs (a dropped route) answers "not ready", not a hung probe
# Checks stuck on a hung database hold at most these threads (abandoned, not killed), never the app's pool.
_readiness_threads = anyio.CapacityLimiter(2)


@public
async def healthz(request: Request) -> Response:
    """Alive: the event loop answers. Touches nothing else, so a slow database never gets a worker restarted."""
    return PlainTextResponse("ok", headers=NO_STORE)


@public
async def readyz(request: Request) -> Response:
    """Ready: the database answers, the job queue can be read and the image store is reachable. The body names
    the checks that failed, never an error's text (it may quote a host, a path or credentials)."""
    state = services(request)
    readiness = Readiness({"database": False, "storage": False, "jobs": False})
    with anyio.move_on_after(READY_TIMEOUT_SECONDS):
        readiness = await anyio.to_thread.run_sync(
            lambda: check_readiness(state.engine, storage_ready=state.image_store.ready),
            limiter=_readiness_threads, abandon_on_cancel=True)
    body: dict[str, object] = {"status": "ready" if readiness.ready else "not_ready",
            "checks": {name: "ok" if passed else "failed" for name, passed in readiness.checks.items()}}
    if not readiness.ready:
        body["failed"] = readiness.failed
    return JSONResponse(body, status_code=200 if readiness.ready else 503, headers=NO_STORE)


@public
async def metrics(request: Request) -> Response:
    """Prometheus text format, for a scraper on this machine or one that sends REGISTRO_METRICS_TOKEN."""
    state = services(request)
    if not scrape_allowed(request, token=state.settings.metrics_token):
        return PlainTextResponse("forbidden", status_code=403, headers=NO_STORE)
    body = await anyio.to_thread.run_sync(exposition, state.engine)
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4, headers=NO_STORE)


routes = [
    Route("/healthz", healthz, name="healthz"),
    Route("/readyz", readyz, name="readyz"),
    Route("/metrics", metrics, name="metrics"),
]
