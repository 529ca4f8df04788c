"""Request rate limits, through the `limits` library: named limits, one decorator for a route to declare them, and
a 429 (with Retry-After, in the user's language) when one is reached.

Counts live in `REGISTRO_RATE_LIMIT_STORAGE`: in memory for the embedded default (one process), Redis in
production so every worker shares them. Each count is keyed by an HMAC of what it limits (an IP address, an
account, a sign-in identity, a credential's CIC) under the app secret, so neither the storage nor a log ever
holds the address or the CIC itself; logs name only the limit.

Per-IP limits are generous on purpose: Mexican mobile carriers put many phones behind one address (CGNAT), and a
signing event may share one Wi-Fi, so the tight limits are the per-account and per-credential ones."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from limits import RateLimitItem, parse_many
from limits.errors import ConfigurationError, StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from web.i18n import gettext as _
from web.log_privacy import scrub_target
from web.state import services

log = logging.getLogger(__name__)
Endpoint = Callable[[Request], Awaitable[Response]]
KEY_PREFIX = "registro-ratelimit"


class Scope(StrEnum):
    IP = "ip"
    ACCOUNT = "account"  # the signed-in account, or the provider identity being signed in
    CREDENTIAL = "credential"  # the CIC of a voter credential


@dataclass(frozen=True)
class NamedLimit:
    name: str  # the key of REGISTRO_RATE_LIMITS that overrides `default`
    scope: Scope
    default: str  # `limits` notation; several separated by ";"


# Defaults leave a real person (a citizen retrying a blurry photo, an auxiliary capturing all day) far below them.
LOGIN_START = NamedLimit("login_start", Scope.IP, "60/minute;600/hour")
SIGN_IN = NamedLimit("sign_in", Scope.IP, "60/minute;600/hour")  # provider callbacks
SIGN_IN_ACCOUNT = NamedLimit("sign_in_account", Scope.ACCOUNT, "20/hour")
TOKEN = NamedLimit("token", Scope.IP, "120/minute")  # the local provider's token endpoint (development, test)
FIELD_SESSION = NamedLimit("field_session", Scope.ACCOUNT, "60/minute")  # GET /api/campo/sesion
DECODE_IP = NamedLimit("decode_ip", Scope.IP, "120/minute")
DECODE = NamedLimit("decode", Scope.ACCOUNT, "30/minute;600/hour")  # photos of a credential's back
CREDENTIAL = NamedLimit("credential", Scope.CREDENTIAL, "10/hour")  # activation-code requests for one CIC
INVITATION_RESEND = NamedLimit("invitation_resend", Scope.ACCOUNT, "20/hour")
# «Verifica tu apoyo» (public, anonymous): per clave de elector, so nobody tries CIC after CIC for one clave.
VERIFY_IP = NamedLimit("verify_ip", Scope.IP, "30/hour")
VERIFY_CLAVE = NamedLimit("verify_clave", Scope.CREDENTIAL, "10/hour")
OPEN_DATA_IP = NamedLimit("open_data_ip", Scope.IP, "120/minute")  # public figures; caches take most requests

NAMED_LIMITS = (LOGIN_START, SIGN_IN, SIGN_IN_ACCOUNT, TOKEN, FIELD_SESSION, DECODE_IP, DECODE, CREDENTIAL,
                INVITATION_RESEND, VERIFY_IP, VERIFY_CLAVE, OPEN_DATA_IP)


class RateLimiter:
    """The named limits, their counts in one storage, and the HMAC key that hides what is counted."""

    def __init__(self, storage: Storage, *, secret: str, overrides: Mapping[str, str] | None = None) -> None:
        overrides = dict(overrides or {})
        unknown = set(overrides) - {limit.name for limit in NAMED_LIMITS}
        if unknown:
            raise ValueError(f"REGISTRO_RATE_LIMITS names unknown limits: {', '.join(sorted(unknown))}")
        self._items = {limit.name: list(parse_many(overrides.get(limit.name, limit.default)))
                       for limit in NAMED_LIMITS}
        self._strategy = MovingWindowRateLimiter(storage)
        self._key = hashlib.sha256(f"rate-limit:{secret}".encode()).digest()

    def hit(self, limit: NamedLimit, value: str) -> int | None:
        """Count one request; None when allowed, otherwise the seconds until the limit lets one through again.
        A storage that cannot be reached lets the request through: an outage of Redis must not lock everyone
        out of signing in or giving support."""
        identifier = hmac.new(self._key, f"{limit.scope}:{value}".encode(), hashlib.sha256).hexdigest()[:32]
        try:
            for item in self._items[limit.name]:
                if not self._strategy.hit(item, limit.name, identifier):
                    return self._retry_after(item, limit.name, identifier)
        except StorageError as error:
            log.warning("rate limit storage unavailable (%s); %s not applied", type(error.storage_error).__name__,
                        limit.name)
        return None

    def _retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        reset = self._strategy.get_window_stats(item, *identifiers).reset_time
        return max(1, math.ceil(reset - time.time()))


def build_rate_limiter(storage_uri: str, *, secret: str, overrides: Mapping[str, str] | None = None) -> RateLimiter:
    try:
        storage = storage_from_string(storage_uri, key_prefix=KEY_PREFIX, wrap_exceptions=True)
    except ConfigurationError:
        # Never echo the URI: it may carry the Redis password.
        raise ValueError("REGISTRO_RATE_LIMIT_STORAGE is not a storage URI `limits` knows (memory://, redis://)") \
            from None
    if not isinstance(storage, Storage):
        raise ValueError("REGISTRO_RATE_LIMIT_STORAGE must be a synchronous storage, e.g. memory:// or redis://")
    return RateLimiter(storage, secret=secret, overrides=overrides)


# ---------------------------------------------------------------- in the web layer


def client_ip(request: Request) -> str:
    """The peer address (behind a proxy, uvicorn --proxy-headers puts the forwarded client here)."""
    return request.client.host if request.client else "unknown"


async def limit_reached(request: Request, limit: NamedLimit, value: str) -> Response | None:
    """Count one request against `limit` for `value`; the 429 to send back, or None to go on."""
    limiter: RateLimiter = services(request).rate_limiter
    retry_after = await run_in_threadpool(limiter.hit, limit, value)
    if retry_after is None:
        return None
    log.info("rate limit %s reached on %s %s", limit.name, request.method, scrub_target(request.url.path))
    return too_many_requests(request, retry_after)


def rate_limited(*limits: NamedLimit) -> Callable[[Endpoint], Endpoint]:
    """How a route declares its limits (per IP, or per signed-in account). Put it under `requires` / `public`,
    so a refused or forged request is turned away before it counts. Limits on a value only the handler knows
    (a credential, a sign-in identity) call `limit_reached` there."""
    if any(limit.scope is Scope.CREDENTIAL for limit in limits):
        raise ValueError("a credential limit is checked by the handler, with `limit_reached`")

    def decorate(endpoint: Endpoint) -> Endpoint:
        async def limited(request: Request) -> Response:
            for limit in limits:
                value = _request_value(request, limit.scope)
                refusal = await limit_reached(request, limit, value) if value else None
                if refusal is not None:
                    return refusal
            return await endpoint(request)

        limited.__name__ = endpoint.__name__
        limited.__doc__ = endpoint.__doc__
        return limited

    return decorate


def _request_value(request: Request, scope: Scope) -> str | None:
    if scope is Scope.IP:
        return client_ip(request)
    principal = getattr(request.state, "principal", None)
    return str(principal.account_id) if principal is not None else None


def wait_text(seconds: int) -> str:
    if seconds <= 60:
        return _("Espera un minuto e inténtalo de nuevo.")
    if seconds <= 3600:
        return _("Espera %(minutes)s minutos e inténtalo de nuevo.") % {"minutes": math.ceil(seconds / 60)}
    return _("Espera %(hours)s horas e inténtalo de nuevo.") % {"hours": math.ceil(seconds / 3600)}


def too_many_requests(request: Request, retry_after: int | None = None) -> Response:
    """429 in the user's language: a page, or JSON for the phones' API (with `advice`, which the field page
    shows next to the photo, and `retry_after`). Without `retry_after` (too much work at once) no wait is named."""
    headers = {"Cache-Control": "no-store"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    message = _("Recibimos demasiadas solicitudes seguidas.")
    wait = wait_text(retry_after) if retry_after is not None else _("Inténtalo de nuevo en un momento.")
    if request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", ""):
        body = {"error": "too_many_requests", "ok": False, "message": f"{message} {wait}",
                "advice": f"{message} {wait}", "retry_after": retry_after}
        return JSONResponse(body, status_code=429, headers=headers)
    context = {"status_code": 429, "message": message, "wait": wait}
    response: Response = services(request).templates.TemplateResponse(request, "errors/too_many.html", context,
                                                                      status_code=429, headers=headers, inline=True)
    return response
