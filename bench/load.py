"""Load benchmark (issue 14): the app under `registro serve --workers N` on a fresh PostgreSQL database, driven on
loopback by simulated phones, with 1 and with 2 workers side by side in one run.

    python bench/load.py                      # both worker counts: decode phase 30 s, load phase 120 s (< 10 min)
    python bench/load.py --quick              # smoke run: 8 s + 15 s, fewer people
    python bench/load.py --workers 2 --duration 60

Per worker count, on a fresh copy of one seeded database (seeded once through the domain and auth services:
an open process, four aspirants, auxiliaries, citizens with sessions, the later ones with activation codes):

1. decode phase (--decode-seconds): citizens complete the whole flow from a 12 MP photo of their credential's
   back (decoded on the server: the code), then the support with front photo, live photo and signature;
2. load phase (--duration): citizens who have their code give their support (photos already taken: phone-sized
   JPEGs), auxiliaries sync batches of 10 captures through the field API (each capture another person, the
   back's reading already in the decode cache: --field-people per auxiliary), and readers poll report pages;
3. a health probe every 100 ms through both phases, from a process of its own (as a load balancer's); the same
   probe from the load client's loop is shown beside it, slowed by the clients' own backlog.

Every client honours 429/503 Retry-After (with jitter) and counts it; anything else that is not 2xx/3xx, and
every timeout, is an error. Afterwards the database is read: every support acknowledged (a folio on a receipt,
or "received" in a batch answer) must be there exactly once, and double taps (the same idempotency key sent
again, 1 in 20) must have given the same folio and created nothing.

httpx async clients rather than locust: the whole flow keeps its hidden form fields and folios per person,
the client shares the 2 cores with the server (one async process costs little), and no extra dependency.
PostgreSQL: --postgres (default REGISTRO_BENCH_DATABASE_URL, else .ci/run's server); databases
registro_bench_load_seed and registro_bench_load are (re)created and dropped at the end. Redis: rate limits in
db 13 of --redis, emptied before each run. Nothing here asserts a time: the targets are printed beside the
measures."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import re
import shutil
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from load_report import Phase, Result, check_database, print_results
from load_setup import (
    CACHE,
    RUN_DB,
    SEED_DB,
    Photos,
    Seed,
    Server,
    distinct_field_backs,
    environment,
    photos,
    recreate,
    seed,
)

PG_DEFAULT = "postgresql://registro:registro@127.0.0.1:5432/registro"
HIDDEN = {name: re.compile(rf'name="{name}" value="([^"]*)"') for name in ("flujo", "codigo_ref", "clave_idempotencia")}
FOLIO = re.compile(r'id="folio"[^>]*>\s*([^<\s]+)')
TIMEOUT = httpx.Timeout(30.0)
BATCH_TIMEOUT = httpx.Timeout(120.0)  # the phone waits 5 minutes for a batch; the run is shorter
RETRY_AFTER_CAP = 30.0
FAILURES = CACHE / "failures"
DOUBLE_TAP = 20  # one support in this many is sent twice with the same idempotency key


@dataclass
class Record:
    """What the clients saw: latencies of answered steps, statuses, acknowledged folios."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    acknowledged: dict[str, str] = field(default_factory=dict)  # folio -> who (citizen key or field item key)
    double_taps: list[tuple[str, str]] = field(default_factory=list)  # (first folio, folio of the second send)
    completed: Counter[str] = field(default_factory=Counter)  # whole flows by kind
    exhausted: set[str] = field(default_factory=set)


class Flow:
    """One simulated phone: its own cookies and CSRF token; every step honours Retry-After."""

    def __init__(self, base: str, token: str, csrf: str, record: Record) -> None:
        self.client = httpx.AsyncClient(base_url=base, timeout=TIMEOUT, follow_redirects=True,
                                        cookies={"registro_sesion": token}, headers={"X-CSRF-Token": csrf},
                                        event_hooks={"response": [self.keep_cookies_on_loopback]})
        self.record = record

    async def keep_cookies_on_loopback(self, _response: httpx.Response) -> None:
        """Production cookies are Secure (TLS ends at the proxy): on loopback the phones send them over http too.
        A hook, not a cookie policy: httpx copies the jar into a default one for each redirect."""
        for cookie in self.client.cookies.jar:
            cookie.secure = False

    async def step(self, name: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        for _ in range(20):
            started = time.perf_counter()
            try:
                response = await self.client.request(method, path, **kwargs)
            except httpx.TimeoutException:
                self.record.statuses[name]["timeout"] += 1
                return None
            except httpx.HTTPError as error:
                self.record.statuses[name][type(error).__name__] += 1
                return None
            elapsed = time.perf_counter() - started
            self.record.statuses[name][str(response.status_code)] += 1
            if response.status_code in (429, 503) and response.headers.get("Retry-After", "").isdigit():
                wait = min(float(response.headers["Retry-After"]), RETRY_AFTER_CAP)
                await asyncio.sleep(wait * (1 + random.random() * 0.25))
                continue
            if response.status_code < 400:
                self.record.latencies[name].append(elapsed)
                return response
            keep_first_failure(name, response)
            return None
        return None

    async def close(self) -> None:
        await self.client.aclose()


def keep_first_failure(step: str, response: httpx.Response) -> None:
    """The first refused answer of each step and status, for reading after the run (synthetic people only)."""
    path = FAILURES / f"{re.sub(r'[^a-z0-9]+', '-', step)}-{response.status_code}.html"
    if not path.exists():
        FAILURES.mkdir(parents=True, exist_ok=True)
        path.write_text(response.text)


def hidden(response: httpx.Response, name: str) -> str:
    found = HIDDEN[name].search(response.text)
    return found.group(1) if found else ""


async def support_steps(flow: Flow, page: httpx.Response, aspirant_id: int, photos: Photos, who: str) -> bool:
    """From the aspirant choice to the receipt: the submission path (no decode on it)."""
    page_ = await flow.step("choose", "POST", "/ciudadano/apoyo/aspirante",
                            data={"flujo": hidden(page, "flujo"), "aspirante": str(aspirant_id)})
    if page_ is None:
        return False
    page_ = await flow.step("photos", "POST", "/ciudadano/apoyo/fotos", data={"flujo": hidden(page_, "flujo")},
                            files={"frente": ("frente.jpg", photos.front, "image/jpeg"),
                                   "foto_viva": ("selfie.jpg", photos.live, "image/jpeg")})
    if page_ is None:
        return False
    page_ = await flow.step("signature", "POST", "/ciudadano/apoyo/firma", data={"flujo": hidden(page_, "flujo")},
                            files={"firma": ("firma.png", photos.signature, "image/png")})
    if page_ is None:
        return False
    give = {"flujo": hidden(page_, "flujo"), "clave_idempotencia": hidden(page_, "clave_idempotencia"),
            "manifiesto": "si", "privacidad": "si"}
    receipt = await flow.step("give", "POST", "/ciudadano/apoyo/confirmar", data=give)
    folio = FOLIO.search(receipt.text) if receipt is not None else None
    if folio is None:
        return False
    flow.record.acknowledged[folio.group(1)] = who
    if random.randrange(DOUBLE_TAP) == 0:
        again = await flow.step("give (double tap)", "POST", "/ciudadano/apoyo/confirmar", data=give)
        second = FOLIO.search(again.text) if again is not None else None
        flow.record.double_taps.append((folio.group(1), second.group(1) if second else ""))
    return True


async def decoding_citizens(base: str, seed_: Seed, photos: Photos, record: Record, until: float,
                            concurrency: int) -> None:
    """The whole flow from a 12 MP back photo: each person once, with their own credential's photo."""
    people = iter(enumerate(seed_.decoders[:len(photos.backs)]))

    async def one_after_another() -> None:
        for index, (_account, token, csrf) in people:
            if time.monotonic() > until:
                return
            flow = Flow(base, token, csrf, record)
            try:
                confirm = await flow.step("decode (12 MP back)", "POST", "/ciudadano/codigo",
                                          files={"reverso": ("reverso.jpg", photos.backs[index], "image/jpeg")})
                if confirm is None or not hidden(confirm, "flujo"):
                    continue
                ready = await flow.step("confirm credential", "POST", "/ciudadano/codigo/confirmar",
                                        data={"flujo": hidden(confirm, "flujo")})
                if ready is None:
                    continue
                aspirants = await flow.step("continue with code", "POST", "/ciudadano/apoyo/continuar",
                                            data={"codigo_ref": hidden(ready, "codigo_ref")})
                if aspirants is not None and await support_steps(flow, aspirants, seed_.aspirant_ids[index % 4],
                                                                 photos, f"citizen-d{index}"):
                    record.completed["whole flow from the back photo"] += 1
            finally:
                await flow.close()
        record.exhausted.add("decode citizens")

    await asyncio.gather(*(one_after_another() for _ in range(concurrency)))


async def submitting_citizens(base: str, seed_: Seed, photos: Photos, record: Record, until: float,
                              concurrency: int) -> None:
    people = iter(enumerate(seed_.submitters))

    async def one_after_another() -> None:
        for index, (_account, token, csrf, code) in people:
            if time.monotonic() > until:
                return
            flow = Flow(base, token, csrf, record)
            try:
                aspirants = await flow.step("type code", "POST", "/ciudadano/apoyo", data={"codigo": code})
                if aspirants is not None and await support_steps(flow, aspirants, seed_.aspirant_ids[index % 4],
                                                                 photos, f"citizen-s{index}"):
                    record.completed["support (photos taken)"] += 1
            finally:
                await flow.close()
        record.exhausted.add("citizens with codes")

    await asyncio.gather(*(one_after_another() for _ in range(concurrency)))


async def auxiliary(base: str, who: tuple[int, str, str, int], photos: Photos, record: Record, until: float,
                    every: float, offset: int) -> None:
    """A phone syncing its queue: batches of 10; items not received stay queued and go in the next batch."""
    _account, token, csrf, aspirant_id = who
    flow = Flow(base, token, csrf, record)
    flow.client.headers["Accept"] = "application/json"
    queue: list[dict[str, Any]] = []
    n = offset
    try:
        while time.monotonic() < until:
            started = time.monotonic()
            while len(queue) < 10:
                queue.append({"key": str(uuid.uuid4()), "aspirant_id": aspirant_id, "n": n,
                              "captured_at": datetime.now(UTC).isoformat(), "signature_method": "drawn",
                              "identifiers": {"cic": "", "clave_elector": "", "ocr": ""}})
                n += 1
            batch, files, items = queue[:10], [], []
            for item in batch:
                parts = {"back": photos.field_backs[item["n"] % len(photos.field_backs)], "front": photos.front,
                         "live_photo": photos.live, "signature": photos.signature}
                images = {}
                for part, data in parts.items():
                    images[part] = f"{item['key']}.{part}"
                    kind = "image/png" if part == "signature" else "image/jpeg"
                    files.append((images[part], (f"{part}.{'png' if part == 'signature' else 'jpg'}", data, kind)))
                items.append({k: v for k, v in item.items() if k != "n"} | {"images": images})
            answer = await flow.step("field batch of 10", "POST", "/api/campo/lote", files=files,
                                     data={"lote": json.dumps({"items": items})}, timeout=BATCH_TIMEOUT)
            if answer is not None:
                received = {a["key"]: a.get("folio") for a in answer.json().get("items", [])
                            if a.get("status") == "received"}
                for key, folio in received.items():
                    record.acknowledged[folio] = f"field-{key}"
                record.completed["field capture"] += len(received)
                queue = [item for item in queue if item["key"] not in received]
            await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))
    finally:
        await flow.close()


async def reader(base: str, who: tuple[int, str, str, str], record: Record, until: float) -> None:
    _account, token, csrf, path = who
    flow = Flow(base, token, csrf, record)
    try:
        while time.monotonic() < until:
            if await flow.step("report page", "GET", path) is not None:
                record.completed["report page"] += 1
            await asyncio.sleep(1.0)
    finally:
        await flow.close()


PROBE = "health probe"
CLIENT_PROBE = "health probe, in the load client's loop"  # shows the clients' own backlog, not the server's


def probe_in_own_process(base: str, stop: Any, out: Any) -> None:
    """GET /healthz every 100 ms from a process of its own, as a load balancer does: a probe sharing the load
    client's event loop waits behind the simulated phones' work and measures that backlog, not the server.
    Puts [(monotonic time sent, seconds, status or error name)] on `out` once `stop` is set."""
    samples: list[tuple[float, float, str]] = []
    with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        while not stop.is_set():
            sent = time.monotonic()
            try:
                status = str(client.get("/healthz").status_code)
            except httpx.HTTPError as error:
                status = type(error).__name__
            samples.append((sent, time.monotonic() - sent, status))
            stop.wait(max(0.0, 0.1 - (time.monotonic() - sent)))
    out.put(samples)


async def client_probe(base: str, stop: asyncio.Event, phases: list[Record]) -> None:
    """The same probe in the load client's own loop, for comparison with earlier runs (latencies only)."""
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as client:
        while not stop.is_set():
            started = time.perf_counter()
            with contextlib.suppress(httpx.HTTPError):
                await client.get("/healthz")
                phases[-1].latencies[CLIENT_PROBE].append(time.perf_counter() - started)
            await asyncio.sleep(0.1)


def probe_record(samples: list[tuple[float, float, str]], windows: dict[str, tuple[float, float]],
                 phases: dict[str, Phase]) -> Record:
    """The probe over the whole run, and each answered probe's latency in the phase it was sent in."""
    health = Record()
    for sent, seconds, status in samples:
        health.statuses[PROBE][status] += 1
        if not status.isdigit():
            continue
        health.latencies[PROBE].append(seconds)
        for name, (start, end) in windows.items():
            if start <= sent < end:
                phases[name].record.latencies[PROBE].append(seconds)
    return health


async def drive(server: Server, seed_: Seed, photos_: Photos, options: argparse.Namespace) -> Result:
    context = multiprocessing.get_context("spawn")  # nothing of this process's loop or sockets in the probe's
    probe_stop, probe_out = context.Event(), context.Queue()
    probe = context.Process(target=probe_in_own_process, args=(server.url, probe_stop, probe_out), daemon=True)
    probe.start()
    stop, records = asyncio.Event(), [Record()]
    in_client = asyncio.create_task(client_probe(server.url, stop, records))
    phases: dict[str, Phase] = {}
    windows: dict[str, tuple[float, float]] = {}
    for name, seconds in (("decode", options.decode_seconds), ("load", options.duration)):
        record = Record()
        records.append(record)
        cpu, client_cpu, started = server.cpu_seconds(), time.process_time(), time.monotonic()
        until = started + seconds
        if name == "decode":
            await decoding_citizens(server.url, seed_, photos_, record, until, options.decoders)
        else:
            await asyncio.gather(
                submitting_citizens(server.url, seed_, photos_, record, until, options.citizens),
                *(auxiliary(server.url, who, photos_, record, until, options.batch_every, options.field_people * n)
                  for n, who in enumerate(seed_.auxiliaries)),
                *(reader(server.url, who, record, until) for who in seed_.readers))
        windows[name] = (started, time.monotonic())
        phases[name] = Phase(time.monotonic() - started, server.cpu_seconds() - cpu, time.process_time() - client_cpu,
                             record)
    stop.set()
    probe_stop.set()
    await in_client
    samples = await asyncio.to_thread(probe_out.get, timeout=60)  # a probe that died raises here, not hangs
    probe.join()
    return Result(phases=phases, health=probe_record(samples, windows, phases))


def run(workers: int, options: argparse.Namespace, photos_: Photos, seed_: Seed, env: dict[str, str]) -> Result:
    import redis
    redis.Redis.from_url(options.redis).flushdb()
    shutil.rmtree(CACHE / "data", ignore_errors=True)  # the last run's stored photos
    shutil.rmtree(FAILURES, ignore_errors=True)
    recreate(options.postgres, RUN_DB, template=SEED_DB)
    server = Server(env, workers, options.port, options.serve_option)
    try:
        server.wait_ready()
        print(f"--workers {workers}: ready; driving ...", flush=True)
        result = asyncio.run(drive(server, seed_, photos_, options))
    finally:
        server.stop()
    acknowledged = {k: v for phase in result.phases.values() for k, v in phase.record.acknowledged.items()}
    taps = [tap for phase in result.phases.values() for tap in phase.record.double_taps]
    result.database = check_database(env["REGISTRO_DATABASE_URL"], acknowledged, taps)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2", help="worker counts to compare, e.g. 1,2")
    parser.add_argument("--duration", type=float, default=120.0, help="load phase, seconds")
    parser.add_argument("--decode-seconds", type=float, default=30.0, help="decode phase, seconds")
    parser.add_argument("--citizens", type=int, default=32, help="citizens giving support at once")
    parser.add_argument("--decoders", type=int, default=8, help="citizens sending back photos at once")
    # Auxiliaries bring most supports (a day's captures synced at once, when the phone finds signal): each one
    # flushes its queue batch after batch, so the server, not the generator, sets the pace.
    parser.add_argument("--auxiliaries", type=int, default=8)
    parser.add_argument("--field-people", type=int, default=60,
                        help="distinct people per auxiliary (their backs' readings in the decode cache); more "
                             "captures than this repeat people, refused as duplicates")
    parser.add_argument("--batch-every", type=float, default=0.0, help="seconds between an auxiliary's batches "
                        "(0: back to back, a queue flushed)")
    parser.add_argument("--backs", type=int, default=240, help="distinct 12 MP back photos (one per person)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 8 s decode, 15 s load, fewer people")
    parser.add_argument("--postgres", default=os.environ.get("REGISTRO_BENCH_DATABASE_URL", PG_DEFAULT))
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--port", type=int, default=18_014)
    parser.add_argument("--serve-option", action="append", default=[], metavar="OPTION",
                        help="extra `registro serve` argument, e.g. --serve-option=--loop=asyncio")
    parser.add_argument("--set", action="append", default=[], metavar="REGISTRO_X=V", help="extra server setting")
    options = parser.parse_args()
    if options.quick:
        options.duration, options.decode_seconds, options.backs = 15.0, 8.0, 40
        options.citizens = min(options.citizens, 16)
    counts = [int(n) for n in options.workers.split(",")]
    extra = dict(item.split("=", 1) for item in options.set)
    seed_url = options.postgres.rsplit("/", 1)[0] + "/" + SEED_DB
    run_url = options.postgres.rsplit("/", 1)[0] + "/" + RUN_DB
    photos_ = photos(options.backs, 1)  # the field backs: one base photo, made another person's per capture
    print("seeding ...", flush=True)
    recreate(options.postgres, SEED_DB)
    submitters = int(options.duration * 90) + 200  # more than 50/s needs: a faster server runs out last
    seed_ = seed(seed_url, environment(seed_url, options.redis, 1, extra), decoders=options.backs,
                 submitters=submitters, auxiliaries=options.auxiliaries)
    # One back per field capture, each another person's with its reading in the decode cache (copied with the
    # seed): the field path stores supports instead of refusing repeated people as duplicates.
    photos_ = replace(photos_, field_backs=distinct_field_backs(
        seed_url, environment(seed_url, options.redis, 1, extra), photos_.field_backs[0],
        options.field_people * options.auxiliaries))
    results = {}
    try:
        for workers in counts:
            env = environment(run_url, options.redis, workers, extra)
            results[workers] = run(workers, options, photos_, seed_, env)
    finally:
        recreate(options.postgres, RUN_DB, drop_only=True)
        recreate(options.postgres, SEED_DB, drop_only=True)
        shutil.rmtree(CACHE / "data", ignore_errors=True)
    print_results(results, options)


if __name__ == "__main__":
    main()
