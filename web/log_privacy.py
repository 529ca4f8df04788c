"""What reaches the logs: request targets without secrets, and unhandled errors without personal data.

Invitation links (`/campo/invitacion/<token>`), receipts (`/ciudadano/apoyos/<folio>`), step tokens (`?flujo=`),
OAuth codes and return paths all travel in URLs, and uvicorn's access log writes every URL. `scrub_target`
replaces every path parameter that is not a plain row number (or a provider's name) with a placeholder (found
from the app's own route table, so a new route with a token is covered without touching this file) and every
query value except the harmless ones in `_KEPT_QUERY_KEYS`. `AccessLogScrubber` applies it to uvicorn's access
log records; the app factory installs it, so `registro serve`, `uvicorn --factory` and gunicorn's uvicorn workers
all get it.

Exception messages may quote what the person sent (a name in a PostgreSQL DETAIL line, a value in a ValueError):
`log_unhandled` logs the exception types, the SQLSTATE and the stack (file, line, code), never the messages."""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from functools import cache
from urllib.parse import quote, unquote

from starlette.convertors import IntegerConvertor
from starlette.routing import BaseRoute, Route

from web.convertors import RowIdConvertor

_ROW_NUMBERS = (IntegerConvertor, RowIdConvertor)  # a row's number in a path is no secret

PLACEHOLDER = "[redacted]"
ACCESS_LOGGER = "uvicorn.access"
_KEPT_QUERY_KEYS = frozenset({"lang", "hecho"})
_PUBLIC_PATH_PARAMS = frozenset({"provider"})  # /entrar/google: which sign-in button, no secret
_URL_ARGUMENT = 2  # uvicorn's access log arguments: client, method, path with query, HTTP version, status

log = logging.getLogger("web.errors")


@cache
def _secret_routes() -> tuple[tuple[re.Pattern[str], frozenset[str]], ...]:
    from web.routes import ALL_ROUTES  # late: the routes import this module's callers

    return tuple(_prefix_patterns(ALL_ROUTES))


def _prefix_patterns(routes: Iterable[BaseRoute]) -> Iterable[tuple[re.Pattern[str], frozenset[str]]]:
    for route in routes:
        if not isinstance(route, Route):
            continue
        secret = frozenset(name for name, convertor in route.param_convertors.items()
                           if not isinstance(convertor, _ROW_NUMBERS) and name not in _PUBLIC_PATH_PARAMS)
        if secret:
            # Without the closing `$`, a longer path (`/<token>/`, `/<token>/x`) still has its token hidden.
            yield re.compile(route.path_regex.pattern.removesuffix("$")), secret


def _scrub_path(path: str) -> str:
    plain = unquote(path)
    for pattern, secret in _secret_routes():
        match = pattern.match(plain)
        if match is None:
            continue
        pieces, end = [], 0
        for name in sorted(secret, key=match.start):
            pieces += [quote(plain[end:match.start(name)]), PLACEHOLDER]
            end = match.end(name)
        return "".join(pieces) + quote(plain[end:])
    return path


def _scrub_query(query: str) -> str:
    pairs = []
    for pair in query.split("&"):
        key, equals, _value = pair.partition("=")
        kept = key in _KEPT_QUERY_KEYS
        pairs.append(pair if kept else f"{key if len(key) <= 32 else PLACEHOLDER}{equals and '='}{PLACEHOLDER}")
    return "&".join(pairs)


def scrub_target(target: str) -> str:
    """`/campo/invitacion/12-abc?flujo=xyz&lang=en` → `/campo/invitacion/[redacted]?flujo=[redacted]&lang=en`."""
    path, question, query = target.partition("?")
    return _scrub_path(path) + (question + _scrub_query(query) if question else "")


class AccessLogScrubber(logging.Filter):
    """Rewrites the URL argument of uvicorn's access log records; the record itself is always kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > _URL_ARGUMENT:
            target = args[_URL_ARGUMENT]
            if isinstance(target, str):
                record.args = (*args[:_URL_ARGUMENT], scrub_target(target), *args[_URL_ARGUMENT + 1:])
        return True


def install_access_log_scrubber() -> None:
    """Idempotent: every app built in one process shares the one filter."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, AccessLogScrubber) for existing in logger.filters):
        logger.addFilter(AccessLogScrubber())


def _exception_chain(exc: BaseException) -> str:
    names: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        sqlstate = getattr(current, "sqlstate", None)
        names.append(type(current).__name__ + (f"[{sqlstate}]" if isinstance(sqlstate, str) else ""))
        current = current.__cause__ or current.__context__
    return " <- ".join(names)


def log_unhandled(method: str, path: str, exc: BaseException) -> None:
    """An unhandled error: where it happened and its types, without any message (see the module docstring)."""
    stack = "".join(traceback.format_tb(exc.__traceback__))
    log.error("unhandled %s on %s %s\n%s", _exception_chain(exc), method, scrub_target(path), stack)
