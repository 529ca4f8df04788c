"""Prometheus metrics (prometheus-client): requests and their latency by route template, credential decodes (time,
in flight, waiting), and gauges read from the database when scraped (jobs, the compulsa's queue, supports by
status), which are the same whichever worker answers the scrape.

Several worker processes: prometheus-client keeps each process's counters in files under
`PROMETHEUS_MULTIPROC_DIR` when that variable is set before it is imported (`registro serve --workers N` sets a
fresh private one), and /metrics then adds up every process's files (MultiProcessCollector).

Labels never carry anything about a person: a route is its template (`/opl/procesos/{process_id}/reportes`), a path
that matches no route is `[unmatched]` (a path a client invents may hold a clave, and would make the label set
unbounded), and a method outside the usual ones is `OTHER`."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from time import perf_counter
from typing import TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import Scope

from core.db import session_scope
from core.settings import LOOPBACK_HOSTS
from registry.operations import active_jobs_by_kind, pending_verifications, supports_by_status

T = TypeVar("T")
log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "[unmatched]"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A request that came through a proxy is not a local scraper, whatever address the proxy connected from.
_FORWARDING_HEADERS = (b"x-forwarded-for", b"forwarded", b"x-real-ip")

REQUESTS = Counter("registro_http_requests", "HTTP requests answered, by route template, method and status.",
                   ["route", "method", "status"])
LATENCY = Histogram("registro_http_request_duration_seconds", "Time to answer an HTTP request, by route template.",
                    ["route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
DECODE_SECONDS = Histogram("registro_decode_seconds", "Time decoding one credential back photo (in its thread).",
                           buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 5))
DECODE_IN_FLIGHT = Gauge("registro_decode_in_flight", "Credential photos being decoded now.",
                         multiprocess_mode="livesum")
DECODE_WAITING = Gauge("registro_decode_waiting", "Credential photos waiting for a decoder.",
                       multiprocess_mode="livesum")


def route_template(scope: Scope) -> str:
    """The template of the route that answered (Starlette's router leaves it in the scope), never the path."""
    route = scope.get("route")
    if isinstance(route, BaseRoute):
        template = getattr(route, "path_format", None)
        if isinstance(template, str):
            return template
    return UNMATCHED


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route=route, method=method if method in _METHODS else "OTHER", status=str(status)).inc()
    LATENCY.labels(route=route).observe(seconds)


@contextmanager
def decode_tracked(work: Callable[[], T]) -> Iterator[Callable[[], T]]:
    """`work` wrapped for the decode metrics: it counts as waiting until a thread takes it, then in flight and
    timed. A request cancelled while it waits leaves the waiting count as it found it."""
    started = False
    DECODE_WAITING.inc()

    def run() -> T:
        nonlocal started
        started = True
        DECODE_WAITING.dec()
        DECODE_IN_FLIGHT.inc()
        began = perf_counter()
        try:
            return work()
        finally:
            DECODE_SECONDS.observe(perf_counter() - began)
            DECODE_IN_FLIGHT.dec()

    try:
        yield run
    finally:
        if not started:
            DECODE_WAITING.dec()


class DatabaseGauges(Collector):
    """Read when scraped, so any worker reports the same figures; if the database does not answer, only
    `registro_database_up 0` is reported (the scrape itself still succeeds)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterable[Metric]:
        try:
            with session_scope(self.engine, read_only=True) as session:
                jobs = active_jobs_by_kind(session=session)
                pending = pending_verifications(session=session)
                supports = supports_by_status(session=session)
        except Exception as error:  # its message may name the database's host
            log.warning("metrics: database not read: %s", type(error).__name__)
            yield GaugeMetricFamily("registro_database_up", "Whether the database answered this scrape.", value=0)
            return
        yield GaugeMetricFamily("registro_database_up", "Whether the database answered this scrape.", value=1)
        job_family = GaugeMetricFamily("registro_jobs", "Background jobs queued or running, by kind.",
                                       labels=["kind", "state"])
        for (kind, state), n in jobs.items():
            job_family.add_metric([kind.value, state.value], n)
        yield job_family
        yield GaugeMetricFamily("registro_pending_verifications",
                                "Supports received and waiting for the compulsa.", value=pending)
        support_family = GaugeMetricFamily("registro_supports", "Supports by status.", labels=["status"])
        for status, n in supports.items():
            support_family.add_metric([status.value], n)
        yield support_family


def exposition(engine: Engine) -> bytes:
    """The scrape's text: this process's (or, with PROMETHEUS_MULTIPROC_DIR, every worker's) metrics and the
    database gauges. Blocking: call it from a thread."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(DatabaseGauges(engine))
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(scrape)
        return generate_latest(scrape)
    return generate_latest(REGISTRY) + generate_latest(scrape)


@contextmanager
def multiprocess_metrics(workers: int) -> Iterator[None]:
    """For `registro serve --workers N`: with more than one worker, a fresh private directory (0700) for the
    workers' metric files, removed when the server stops, unless the operator chose one (then it is theirs to
    empty before each start). The workers are new processes and read the variable when they import
    prometheus-client."""
    if workers <= 1 or os.environ.get(MULTIPROC_ENV):
        yield
        return
    directory = tempfile.mkdtemp(prefix="registro-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def scrape_allowed(request: Request, *, token: str) -> bool:
    """A scraper on this machine (loopback, not relayed by a proxy) or one that sends the configured token."""
    sent = request.headers.get("authorization", "")
    if token and secrets.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    client = request.client.host if request.client else ""
    relayed = any(key in _FORWARDING_HEADERS for key, _value in request.scope.get("headers", []))
    return client in LOOPBACK_HOSTS and not relayed
