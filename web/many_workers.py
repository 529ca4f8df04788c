"""What must hold before the app runs in several worker processes (`registro serve --workers N`, N > 1).

Everything a request relies on lives in the database (sessions, idempotency keys, jobs, report counters) or in the
rate-limit storage, except two things kept in one process's memory, which several workers would split:

- the local OpenID provider (development and test only) keeps its authorization codes in memory: a code issued by
  one worker would be unknown to the worker that answers the token request;
- `memory://` rate-limit counts: each worker would count apart, multiplying every limit by N.

Both are refused at start with a message naming the setting (never its value). The per-process bounds that stay per
process on purpose (photo work per server and per account, the decode pool, the decode cache) are explained in
web/image_work.py and registry/intake/reading.py."""

from __future__ import annotations

from core.settings import Settings

SHARED_STORAGE_HINT = "REGISTRO_RATE_LIMIT_STORAGE=redis://host:6379/0"


def many_workers_problems(settings: Settings, workers: int) -> list[str]:
    """Why this configuration must not run with `workers` processes; empty when it may."""
    if workers <= 1:
        return []
    problems = []
    if settings.offers_local_provider:
        problems.append(
            f"--workers {workers}: the local sign-in provider (REGISTRO_ENV=development or test) keeps its codes "
            "in one process's memory and needs one worker; run with --workers 1, or deploy with "
            "REGISTRO_ENV=production")
    if settings.rate_limit_storage.startswith("memory://"):
        problems.append(
            f"--workers {workers}: REGISTRO_RATE_LIMIT_STORAGE is memory://, so each worker would keep its own "
            f"counts and every rate limit would be {workers} times looser; set {SHARED_STORAGE_HINT}, shared by "
            "all workers")
    return problems
