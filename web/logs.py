"""Log lines: one JSON object per line (production) or one readable line, each with the id of the request it was
written for.

The request id lives in a context variable set by web/observe.py for the whole request; anyio copies the context
into the thread pool, so lines written from `run_in_threadpool` work carry it too. A `RequestIdFilter` on every
handler we configure puts it on each record (`-` outside a request: start-up, the worker thread).

An incoming `X-Request-ID` (a proxy's or load balancer's, so its log lines and ours join up) is kept only when it
is a short opaque token. Whatever a client puts there goes into every log line of its request, so a value shaped
like personal data (a clave de elector, a CURP, a bare number such as a CIC, an OCR or a phone) is replaced by a
fresh id: the logs must never become a place where a clave ends up because a client chose to send it there."""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from core.settings import LogFormat

REQUEST_ID_HEADER = "X-Request-ID"
NO_REQUEST = "-"
ACCESS_LOGGER = "registro.access"
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_PERSONAL_SHAPES = (
    re.compile(r"[A-Z]{6}[0-9]{8}[HM][0-9]{3}", re.IGNORECASE),  # clave de elector
    re.compile(r"[A-Z]{4}[0-9]{6}[HM][A-Z]{5}[A-Z0-9][0-9]", re.IGNORECASE),  # CURP
)
_ONLY_DIGITS = re.compile(r"[0-9._-]+")  # CIC, OCR, phone numbers, identificador ciudadano
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(request_id)s %(message)s"
# HTTP clients log every outbound URL at INFO (OAuth and provider calls may carry codes or tokens in them).
_QUIET_AT_INFO = ("httpx", "httpx2", "httpcore", "httpcore2")

_request_id: ContextVar[str] = ContextVar("registro_request_id", default=NO_REQUEST)


def current_request_id() -> str:
    return _request_id.get()


@contextmanager
def request_id_bound(value: str) -> Iterator[None]:
    """Every line logged inside the block (in this context and the threads it starts) carries `value`."""
    token = _request_id.set(value)
    try:
        yield
    finally:
        _request_id.reset(token)


def accepted_request_id(incoming: str | None) -> str:
    """The incoming id when it is a short opaque token, otherwise a new one (see the module docstring)."""
    if incoming and _SAFE_ID.fullmatch(incoming) and not _looks_personal(incoming):
        return incoming
    return uuid.uuid4().hex


def _looks_personal(value: str) -> bool:
    return bool(_ONLY_DIGITS.fullmatch(value)) or any(shape.search(value) for shape in _PERSONAL_SHAPES)


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record a handler of ours writes; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the moment (a test's capture, a redirected stream), like logging's
    own last-resort handler, instead of the stream that was current when the app was built."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """StreamHandler's constructor assigns a stream; ours is always the current sys.stderr."""


def formatter_for(log_format: LogFormat) -> logging.Formatter:
    if log_format is LogFormat.JSON:
        return JsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger"}, timestamp="time",
                             json_ensure_ascii=False)  # time: ISO 8601 in UTC
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(log_format: LogFormat) -> None:
    """Idempotent: the root logger gets one handler of ours (to stderr), and uvicorn's own handlers (set up by
    uvicorn before it builds the app, in every worker) get the same format and the request id. Called by the app
    factory, so `registro serve`, `uvicorn --factory` and gunicorn's uvicorn workers all log alike."""
    formatter = formatter_for(log_format)
    root = logging.getLogger()
    ours = next((handler for handler in root.handlers if isinstance(handler, _StderrHandler)), None)
    if ours is None:
        ours = _StderrHandler()
        root.addHandler(ours)
    handlers = [ours, *(handler for name in _UVICORN_LOGGERS for handler in logging.getLogger(name).handlers)]
    for handler in handlers:
        handler.setFormatter(formatter)
        if not any(isinstance(existing, RequestIdFilter) for existing in handler.filters):
            handler.addFilter(RequestIdFilter())
    if root.level > logging.INFO:  # the access log and the app's notices are INFO; Python's default is WARNING
        root.setLevel(logging.INFO)
    for name in _QUIET_AT_INFO:
        client_logger = logging.getLogger(name)
        if client_logger.level == logging.NOTSET:  # unless the operator chose a level for it
            client_logger.setLevel(logging.WARNING)
