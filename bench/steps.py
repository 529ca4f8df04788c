"""Server CPU and SQL statements per step of the citizen wizard and of a field batch, in-process, one request at a
time: what each request costs the server, free of the machine's load (CPU time, not wall-clock time).

    python bench/steps.py                       # 30 citizens, 10 field batches of 10
    python bench/steps.py --citizens 100 --batches 20
    python bench/steps.py --profile give        # also cProfile that step (top functions by own time)

The app is `web.app.create_app(settings)` with production settings (bench/load_setup.py's environment, memory://
rate limits) on a fresh PostgreSQL database seeded by bench/load_setup.py (citizens with sessions and activation
codes, one auxiliary); httpx.AsyncClient drives it over ASGITransport, so client and server share this process and
`time.process_time()` around one request (every thread: the handlers' database work runs in the thread pool) is
the server's CPU plus httpx's small share, the same for every step. SQL statements are counted on the app's engine
(`before_cursor_execute`). Redirects are followed by hand, so each POST and the GET it leads to are measured apart.
The field backs are one per item, each another person's (bench/load_setup.distinct_field_backs), with their
readings placed in the decode cache before the measured batches (as on a phone that read the back online first),
so the batches measure intake of stored supports, not decoding (bench/decode.py) nor duplicates refused.
The database registro_bench_steps is dropped at the end."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import re
import statistics
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from load_setup import CACHE, Photos, distinct_field_backs, environment, photos, recreate, seed

PG_DEFAULT = "postgresql://registro:registro@127.0.0.1:5432/registro"
DB_NAME = "registro_bench_steps"
HIDDEN = {name: re.compile(rf'name="{name}" value="([^"]*)"') for name in ("flujo", "clave_idempotencia")}
FOLIO = re.compile(r'id="folio"[^>]*>\s*([^<\s]+)')
# Rows outside the citizen's wizard (not in its total): what the health probe, a plain signed-in page and httpx
# itself (a bare ASGI app: the client's share of every row) cost.
OTHER_STEPS = frozenset({"field batch of 10", "GET /healthz", "GET /ciudadano (home)", "httpx alone (bare app)",
                         "GET report page (OPL)", "GET report page (aspirant)"})
READS = 5  # each report page, per reader


class Meter:
    """CPU ms and SQL statements per step name; one request at a time, so nothing else runs in between."""

    def __init__(self, engine: Any, profile: str | None) -> None:
        from sqlalchemy import event
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.sql: dict[str, list[int]] = defaultdict(list)
        self.loop: dict[str, list[float]] = defaultdict(list)
        self.statements = 0
        self.profile_step, self.profiler, self.thread_profiler = profile, cProfile.Profile(), cProfile.Profile()
        self.profiling = False
        event.listen(engine, "before_cursor_execute", self._count)
        if profile is not None:
            self._profile_worker_threads()

    def _profile_worker_threads(self) -> None:
        """cProfile sees one thread: the handlers' work in the thread pool gets a profiler of its own (one request
        at a time, so one worker thread at a time)."""
        import anyio.to_thread
        run_sync = anyio.to_thread.run_sync

        async def profiled(func: Any, *args: Any, **kwargs: Any) -> Any:
            def work(*inner: Any) -> Any:
                if not self.profiling:
                    return func(*inner)
                self.thread_profiler.enable()
                try:
                    return func(*inner)
                finally:
                    self.thread_profiler.disable()
            return await run_sync(work, *args, **kwargs)

        anyio.to_thread.run_sync = profiled  # type: ignore[assignment]

    def _count(self, *_args: Any) -> None:
        self.statements += 1

    async def request(self, client: httpx.AsyncClient, step: str, method: str, path: str,
                      **kwargs: Any) -> httpx.Response:
        profiling = self.profile_step is not None and step.startswith(self.profile_step)
        statements, cpu, loop = self.statements, time.process_time(), time.thread_time()
        if profiling:
            self.profiling = True
            self.profiler.enable()
        response = await client.request(method, path, **kwargs)
        if profiling:
            self.profiler.disable()
            self.profiling = False
        self.cpu[step].append((time.process_time() - cpu) * 1000)
        self.loop[step].append((time.thread_time() - loop) * 1000)
        self.sql[step].append(self.statements - statements)
        if response.status_code >= 400:
            raise RuntimeError(f"{step}: {method} {path.split('?')[0]} answered {response.status_code}")
        return response

    async def post_and_follow(self, client: httpx.AsyncClient, step: str, path: str,
                              **kwargs: Any) -> httpx.Response:
        """The POST, then the page its 303 leads to (Post/Redirect/Get), measured as two steps."""
        answer = await self.request(client, step, "POST", path, **kwargs)
        if answer.status_code in (302, 303):
            answer = await self.request(client, f"{step} → GET", "GET", answer.headers["location"])
        return answer

    def report(self) -> None:
        print(f"{'step':<28} {'n':>4} {'CPU ms mean':>12} {'median':>8} {'loop ms':>8} {'SQL mean':>9}")
        total_cpu = total_loop = total_sql = 0.0
        for step, values in self.cpu.items():
            sql, loop = self.sql[step], self.loop[step]
            print(f"{step:<28} {len(values):>4} {statistics.fmean(values):>12.1f} {statistics.median(values):>8.1f} "
                  f"{statistics.fmean(loop):>8.1f} {statistics.fmean(sql):>9.1f}")
            if step not in OTHER_STEPS:
                total_cpu += statistics.fmean(values)
                total_loop += statistics.fmean(loop)
                total_sql += statistics.fmean(sql)
        print(f"{'citizen support, all steps':<28} {'':>4} {total_cpu:>12.1f} {'':>8} {total_loop:>8.1f} "
              f"{total_sql:>9.1f}")
        if self.profile_step is not None:
            for title, profiler in (("event loop thread", self.profiler), ("worker threads", self.thread_profiler)):
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("STEPS_SORT", "tottime"))
                stats.print_stats(int(os.environ.get("STEPS_TOP", "30")))
                if os.environ.get("STEPS_CALLERS"):  # who calls the functions matching this pattern
                    stats.print_callers(os.environ["STEPS_CALLERS"])
                print(f"--- {title}\n{out.getvalue()}")


def hidden(response: httpx.Response, name: str) -> str:
    found = HIDDEN[name].search(response.text)
    return found.group(1) if found else ""


def client_for(app: Any, token: str, csrf: str) -> httpx.AsyncClient:
    # https: production cookies are Secure. No Origin header: the CSRF token alone, as old browsers send.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://127.0.0.1",
                             cookies={"registro_sesion": token}, headers={"X-CSRF-Token": csrf}, timeout=120)


async def citizen(meter: Meter, app: Any, person: tuple[int, str, str, str], aspirant_id: int,
                  photos_: Photos) -> str:
    _account, token, csrf, code = person
    async with client_for(app, token, csrf) as client:
        page = await meter.post_and_follow(client, "type code", "/ciudadano/apoyo", data={"codigo": code})
        page = await meter.post_and_follow(client, "choose aspirant", "/ciudadano/apoyo/aspirante",
                                           data={"flujo": hidden(page, "flujo"), "aspirante": str(aspirant_id)})
        page = await meter.post_and_follow(client, "photos", "/ciudadano/apoyo/fotos",
                                           data={"flujo": hidden(page, "flujo")},
                                           files={"frente": ("frente.jpg", photos_.front, "image/jpeg"),
                                                  "foto_viva": ("selfie.jpg", photos_.live, "image/jpeg")})
        page = await meter.post_and_follow(client, "signature", "/ciudadano/apoyo/firma",
                                           data={"flujo": hidden(page, "flujo")},
                                           files={"firma": ("firma.png", photos_.signature, "image/png")})
        receipt = await meter.post_and_follow(client, "give", "/ciudadano/apoyo/confirmar",
                                              data={"flujo": hidden(page, "flujo"), "manifiesto": "si",
                                                    "privacidad": "si",
                                                    "clave_idempotencia": hidden(page, "clave_idempotencia")})
        await meter.request(client, "GET /ciudadano (home)", "GET", "/ciudadano")
        await meter.request(client, "GET /healthz", "GET", "/healthz")
    async with client_for(bare_app, token, csrf) as client:
        await meter.request(client, "httpx alone (bare app)", "GET", "/ciudadano")
    folio = FOLIO.search(receipt.text)
    if folio is None:
        raise RuntimeError("give: no folio on the receipt")
    return folio.group(1)


async def bare_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def batch_files(photos_: Photos, aspirant_id: int, first: int) -> tuple[dict[str, str], list[Any]]:
    files, items = [], []
    for n in range(first, first + 10):
        key = str(uuid.uuid4())
        parts = {"back": photos_.field_backs[n % len(photos_.field_backs)], "front": photos_.front,
                 "live_photo": photos_.live, "signature": photos_.signature}
        images = {}
        for part, data in parts.items():
            images[part] = f"{key}.{part}"
            kind = "png" if part == "signature" else "jpeg"
            files.append((images[part], (f"{part}.{kind}", data, f"image/{kind}")))
        items.append({"key": key, "aspirant_id": aspirant_id, "captured_at": datetime.now(UTC).isoformat(),
                      "signature_method": "drawn", "identifiers": {"cic": "", "clave_elector": "", "ocr": ""},
                      "images": images})
    return {"lote": json.dumps({"items": items})}, files


async def field(meter: Meter, app: Any, who: tuple[int, str, str, int], photos_: Photos, batches: int) -> int:
    _account, token, csrf, aspirant_id = who
    received = 0
    async with client_for(app, token, csrf) as client:
        client.headers["Accept"] = "application/json"
        for b in range(batches):
            data, files = batch_files(photos_, aspirant_id, 10 * b)
            answer = await meter.request(client, "field batch of 10", "POST", "/api/campo/lote", data=data,
                                         files=files)
            received += sum(item.get("status") == "received" for item in answer.json()["items"])
    return received


async def reader(meter: Meter, app: Any, who: tuple[int, str, str, str], step: str) -> None:
    """The report pages bench/load.py's readers poll (after the supports above: their figures are not empty)."""
    _account, token, csrf, path = who
    async with client_for(app, token, csrf) as client:
        for _ in range(READS):
            await meter.request(client, step, "GET", path)


async def drive(options: argparse.Namespace, env: dict[str, str], photos_: Photos, seeded: Any) -> None:
    os.environ.update({k: v for k, v in env.items() if k.startswith("REGISTRO_")})
    from core.settings import load_settings
    from web.app import create_app
    app = create_app(load_settings())
    meter = Meter(app.state.engine, options.profile)
    baseline, old_meter = None, None
    if options.compare:  # a second app on the same database with the pre-H1 templates: rendered on the loop
        from starlette.templating import Jinja2Templates

        from web.templating import build_templates
        baseline = create_app(load_settings())
        baseline.state.templates = Jinja2Templates(env=build_templates().env)  # type: ignore[assignment]
        old_meter = Meter(baseline.state.engine, None)
    async with app.router.lifespan_context(app):
        folios = []
        for n, person in enumerate(seeded.submitters):
            on_baseline = baseline is not None and old_meter is not None and n % 2 == 1
            folios.append(await citizen(old_meter if on_baseline else meter,  # type: ignore[arg-type]
                                        baseline if on_baseline else app, person, seeded.aspirant_ids[n % 4],
                                        photos_))
        for who, label in zip(seeded.readers, ("OPL", "aspirant"), strict=True):
            for target, on in ((app, meter), (baseline, old_meter)):
                if target is not None and on is not None:
                    await reader(on, target, who, f"GET report page ({label})")
        received = await field(meter, app, seeded.auxiliaries[0], photos_, options.batches) if options.batches else 0
    print(f"{len(set(folios))} supports given (folios), {received} field captures received\n")
    if old_meter is not None:
        print("--- baseline: templates as before H1 (auto_reload on, compiled on first use, rendered on the loop)")
        old_meter.report()
        print("--- this code")
    meter.report()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--citizens", type=int, default=30)
    parser.add_argument("--batches", type=int, default=10, help="field batches of 10 (0: none)")
    parser.add_argument("--profile", metavar="STEP", help="cProfile the steps whose name starts with STEP")
    parser.add_argument("--compare", action="store_true",
                        help="every other citizen through a second app with the templates as before H1")
    parser.add_argument("--postgres", default=os.environ.get("REGISTRO_BENCH_DATABASE_URL", PG_DEFAULT))
    options = parser.parse_args()
    url = options.postgres.rsplit("/", 1)[0] + "/" + DB_NAME
    env = environment(url, "memory://", 1, {"REGISTRO_DATA_DIR": str(CACHE / "steps-data"),
                                            "REGISTRO_LOG_FORMAT": "json"})
    env["REGISTRO_BASE_URL"] = "https://127.0.0.1"
    photos_ = photos(0, 1)
    recreate(options.postgres, DB_NAME)
    try:
        seeded = seed(url, env, decoders=0, submitters=options.citizens, auxiliaries=1)
        # One back per field item, each another person's, its reading in the decode cache (a phone that read it
        # online first): every item a support stored, none refused as a duplicate.
        photos_ = replace(photos_, field_backs=distinct_field_backs(url, env, photos_.field_backs[0],
                                                                    10 * options.batches))
        import logging
        logging.disable(logging.WARNING)  # the access log (and "mail waits") would drown the table
        asyncio.run(drive(options, env, photos_, seeded))
    finally:
        recreate(options.postgres, DB_NAME, drop_only=True)


if __name__ == "__main__":
    main()
