"""Benchmark: the Lista Nominal import and the compulsa, on PostgreSQL and SQLite side by side, in one run.

    python bench/roll.py                                  # full size: 10,000,000 roll rows, 1,000,000 supports
    python bench/roll.py --rows 1000000 --supports 100000 # quick
    python bench/roll.py --only sqlite                    # one database

PostgreSQL: a database `registro_bench` is (re)created on the server of --pg (default: the test server of
.ci/run). SQLite: a file in a temporary folder. The roll file is generated once (CSV, the default header) and
imported by both, each import and each compulsa in a child process of its own so that its peak RSS is its own.

Measured, per database:
  import      `registro roll import`'s work (registry.worker.run_one on a queued import): parse, validate, load,
              key and index, switch. rows/s and the child's peak RSS.
  compulsa    verify_process over every support of the process against the roll in force (first run: every
              support changes; second run: nothing changes and no event is written).
  incremental one new support verified alone (support_ids=[id]), 40 times, the first 10 not counted (psycopg
              prepares a statement run 5 times): database time (the driver's execute calls, loopback
              round trips included) and wall time (with the Python around them), median and worst.
Supports are placed directly (not timed): 85 % matched by CIC, 5 % by clave de elector only, 5 % not in the
roll, 5 % a second support of a citizen already supported, for another aspirant (duplicado_otro_aspirante).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PG_DEFAULT = "postgresql://registro:registro@127.0.0.1:5432/registro_bench"
HEADER = ("clave_elector,cic,ocr,identificador_ciudadano,nombre,apellido_paterno,apellido_materno,estado,distrito,"
          "municipio,seccion,situacion\n")
SITUACIONES = ("vigente",) * 96 + ("padron_sin_lista", "baja_defuncion", "baja_suspension_derechos",
                                   "baja_perdida_vigencia")
OPL_NAME = "IEE Bench"


def clave(i: int) -> str:
    return f"GOMEL{chr(65 + i // 1_000_000 % 26)}{i % 1_000_000:06d}26H{i // 26_000_000:03d}"


def cic(i: int) -> str:
    return f"{100_000_000 + i:09d}"


def write_roll(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        chunk: list[str] = []
        for i in range(rows):
            chunk.append(f"{clave(i)},{cic(i)},{1_000_000_000_000 + i:013d},{200_000_000 + i:09d},MARIA,LOPEZ,"
                         f"PEREZ,26,{1 + i % 7},{1 + i % 72},{1 + i % 4000},{SITUACIONES[i % 100]}\n")
            if len(chunk) == 100_000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))


# ---------------------------------------------------------------------------------------------- children

def _engine(url: str) -> Any:
    from core.db import make_engine
    return make_engine(url)


def child_import(url: str, file: str) -> dict[str, Any]:
    from sqlmodel import select

    from core.clock import utcnow
    from core.db import session_scope
    from registry.models import Job, Opl, RollImport
    from registry.roll.imports import ImportRequest, queue_roll_import
    from registry.worker import run_one
    engine = _engine(url)
    with session_scope(engine) as session:
        opl = session.exec(select(Opl).where(Opl.short_name == OPL_NAME)).one()
        job = queue_roll_import(session=session, actor_account_id=None, now=utcnow(), request=ImportRequest(
            opl_id=opl.id or 0, source_name="bench.csv", cutoff=date(2026, 10, 31), input_path=Path(file)),
            today=date(2026, 10, 31))
    started = time.perf_counter()
    run_one(engine, utcnow, job_id=job.id)
    seconds = time.perf_counter() - started
    with session_scope(engine) as session:
        done = session.get(Job, job.id)
        roll = session.get(RollImport, job.roll_import_id)
        for queued in session.exec(select(Job).where(Job.state == "queued")):
            session.delete(queued)  # the compulsa is measured on its own below
    assert done is not None and roll is not None, "import job vanished"
    return {"seconds": seconds, "rows": roll.row_count, "rejected": roll.rows_rejected, "state": done.state,
            "message": done.message, "maxrss_mb": _maxrss_mb()}


def child_compulsa(url: str) -> dict[str, Any]:
    from core.clock import utcnow
    from core.db import session_scope
    from registry.verification.compulsa import verify_process
    engine = _engine(url)
    runs = []
    for _ in range(2):
        started = time.perf_counter()
        with session_scope(engine) as session:
            result = verify_process(session=session, process_id=1, now=utcnow())
        runs.append({"seconds": time.perf_counter() - started, "examined": result.examined,
                     "changed": result.changed})
    return {"runs": runs, "maxrss_mb": _maxrss_mb()}


def child_incremental(url: str, rows: int) -> dict[str, Any]:
    from sqlalchemy import event

    from core.clock import utcnow
    from core.db import session_scope
    from registry.verification.compulsa import verify_process
    engine = _engine(url)
    waits: list[float] = []  # time spent in the database driver's execute calls: the database time, from here

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, *_args: Any) -> None:
        conn.info["started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, *_args: Any) -> None:
        waits.append(time.perf_counter() - conn.info["started"])

    wall, database, categories = [], [], []
    for n in range(40):
        with session_scope(engine) as session:
            support_id = _insert_supports(session.connection(), [(10_000_000 + n, 2, (n * 104_729) % rows, "cic")])[0]
        waits.clear()
        started = time.perf_counter()
        with session_scope(engine) as session:
            verify_process(session=session, process_id=1, now=utcnow(), support_ids=[support_id])
        wall.append((time.perf_counter() - started) * 1000)
        database.append(sum(waits) * 1000)
        with session_scope(engine, read_only=True) as session:
            categories.append(session.connection().exec_driver_sql(
                f"SELECT situacion_registral FROM support WHERE id = {support_id}").scalar_one())
    steady = slice(10, None)  # after the first runs the driver has prepared the statements (psycopg does at 5)
    return {"median_ms": statistics.median(wall[steady]), "max_ms": max(wall[steady]),
            "db_median_ms": statistics.median(database[steady]), "db_max_ms": max(database[steady]),
            "categories": sorted(set(categories))}


def _maxrss_mb() -> float:
    """This process's own peak RSS. (getrusage's ru_maxrss survives exec on Linux, so a child started by a big
    parent would report the parent's size; VmHWM belongs to the new program only.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------- setup

def prepare(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from core.db import make_engine, session_scope
    from registry import migrate
    from registry.models import Aspirant, Opl, Process
    from registry.states import ScopeKind
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    engine = make_engine(url)
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        opl = Opl(name="Instituto de prueba", short_name=OPL_NAME, state_code=26)
        session.add(opl)
        session.flush()
        process = Process(opl_id=opl.id or 0, name="Gubernatura", office="Gubernatura", scope_kind=ScopeKind.STATE,
                          scope_state=26, starts_at=now - timedelta(days=30), ends_at=now + timedelta(days=30),
                          threshold_percent=3)
        session.add(process)
        session.flush()
        for name in ("Aspirante A", "Aspirante B", "Aspirante C"):
            session.add(Aspirant(process_id=process.id or 0, full_name=name, email="a@x.mx"))
    engine.dispose()


def _support_plan(count: int, rows: int) -> list[tuple[int, int, int, str]]:
    """(support number, aspirant id, roll row, how): the mix described in the module's docstring."""
    plan = []
    for n in range(count):
        row, kind = (n * 7_919) % rows, n % 20
        if kind == 0:
            plan.append((n, 1, -1 - n, "missing"))
        elif kind == 1:
            plan.append((n, 1, row, "clave"))
        elif kind == 2:
            plan.append((n, 2, ((n - 2) * 7_919) % rows, "cic"))  # the citizen of support n-2, for aspirant 2
        else:
            plan.append((n, 1 + n % 3 if kind > 10 else 1, row, "cic"))
    return plan


PROCESS_ZONE = ZoneInfo("America/Mexico_City")  # the bench process keeps the default time zone


def _insert_supports(connection: Any, plan: list[tuple[int, int, int, str]]) -> list[int]:
    from core.sealing import blind_index  # Core inserts skip the ORM hook that fills the blind indexes
    at = datetime(2026, 11, 1, tzinfo=UTC)
    readings, supports = [], []
    for n, aspirant, row, how in plan:
        card_cic = f"{300_000_000 + n:09d}" if how == "missing" else (cic(row) if how == "cic" else None)
        card_clave = clave(row) if how == "clave" else None
        received = at + timedelta(seconds=n)
        indexes = {"cic_bidx": blind_index(card_cic, "cic"),
                   "clave_elector_bidx": blind_index(card_clave, "clave_elector")}
        readings.append({"id": n + 1, "source": "pipeline", "cic": card_cic, "clave_elector": card_clave,
                         "created_at": received, **indexes})
        supports.append({"id": n + 1, "folio": f"RC-B{n:010d}", "idempotency_key": f"bench-{n}", "process_id": 1,
                         "aspirant_id": aspirant, "channel": "auxiliary", "reading_id": n + 1, "cic": card_cic,
                         "clave_elector": card_clave, "signature_method": "drawn", "manual_capture": False,
                         "device_time_suspect": False, "captured_at": received, "received_at": received,
                         "received_day": received.astimezone(PROCESS_ZONE).date(),  # the report counters' day
                         "status": "received", "situacion_registral": "sin_verificar", "updated_at": received,
                         **indexes})
    from sqlalchemy import insert

    from registry.models import CredentialReading, PendingVerification, Support
    connection.execute(insert(CredentialReading), readings)
    connection.execute(insert(Support), supports)
    connection.execute(insert(PendingVerification), [{"support_id": row["id"], "process_id": 1} for row in supports])
    return [row["id"] for row in supports]


def place_supports(url: str, count: int, rows: int) -> None:
    from sqlalchemy import text

    from core.db import make_engine
    engine = make_engine(url)
    plan = _support_plan(count, rows)
    for start in range(0, count, 50_000):
        with engine.begin() as connection:
            _insert_supports(connection, plan[start:start + 50_000])
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for table in ("credentialreading", "support"):
                connection.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
            connection.execute(text("ANALYZE support"))
            connection.execute(text("ANALYZE credentialreading"))
    engine.dispose()


# ---------------------------------------------------------------------------------------------- driver

def run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure(url: str, file: Path, rows: int, supports: int) -> dict[str, Any]:
    prepare(url)
    imported = run_child("child-import", url, str(file))
    place_supports(url, supports, rows)
    compulsa = run_child("child-compulsa", url)
    incremental = run_child("child-incremental", url, str(rows))
    return {"import": imported, "compulsa": compulsa, "incremental": incremental}


def report(results: dict[str, dict[str, Any]], rows: int, supports: int) -> None:
    names = list(results)
    print(f"\nroll rows: {rows:,}   supports: {supports:,}   (one run, side by side)")
    print(f"{'':34}" + "".join(f"{name:>18}" for name in names))
    lines = [
        ("import: seconds", lambda r: f"{r['import']['seconds']:.1f}"),
        ("import: rows/s", lambda r: f"{r['import']['rows'] / r['import']['seconds']:,.0f}"),
        ("import: rows loaded / rejected", lambda r: f"{r['import']['rows']:,}/{r['import']['rejected']:,}"),
        ("import: peak RSS (MB)", lambda r: f"{r['import']['maxrss_mb']:.0f}"),
        ("compulsa: seconds (first run)", lambda r: f"{r['compulsa']['runs'][0]['seconds']:.1f}"),
        ("compulsa: supports/s", lambda r: f"{supports / r['compulsa']['runs'][0]['seconds']:,.0f}"),
        ("compulsa: changed (first run)", lambda r: f"{r['compulsa']['runs'][0]['changed']:,}"),
        ("compulsa: seconds (second run)", lambda r: f"{r['compulsa']['runs'][1]['seconds']:.1f}"),
        ("compulsa: changed (second run)", lambda r: f"{r['compulsa']['runs'][1]['changed']:,}"),
        ("compulsa: peak RSS (MB)", lambda r: f"{r['compulsa']['maxrss_mb']:.0f}"),
        ("one new support: db ms median", lambda r: f"{r['incremental']['db_median_ms']:.1f}"),
        ("one new support: db ms worst", lambda r: f"{r['incremental']['db_max_ms']:.1f}"),
        ("one new support: wall ms median", lambda r: f"{r['incremental']['median_ms']:.1f}"),
    ]
    for label, value in lines:
        print(f"{label:34}" + "".join(f"{value(results[name]):>18}" for name in names))
    if len(names) == 2:
        a, b = (results[n] for n in names)
        print(f"\nratio {names[1]}/{names[0]}: import time x{b['import']['seconds'] / a['import']['seconds']:.1f}, "
              f"compulsa time x{b['compulsa']['runs'][0]['seconds'] / a['compulsa']['runs'][0]['seconds']:.1f}")


def _install_keys() -> None:
    """Personal columns are sealed (core/sealing.py): the test environment's public keys serve a benchmark."""
    from core.sealing import install_sealer, sealer_from_settings
    from core.settings import Environment, Settings
    install_sealer(sealer_from_settings(Settings(env=Environment.TEST, secret_key="bench-" + "x" * 40)))


def main() -> None:
    _install_keys()
    if len(sys.argv) > 1 and sys.argv[1].startswith("child-"):
        kind, url, *rest = sys.argv[1:]
        children = {"child-import": lambda: child_import(url, rest[0]), "child-compulsa": lambda: child_compulsa(url),
                    "child-incremental": lambda: child_incremental(url, int(rest[0]))}
        print(json.dumps(children[kind]()))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--supports", type=int, default=1_000_000)
    parser.add_argument("--pg", default=os.environ.get("REGISTRO_BENCH_DATABASE_URL", PG_DEFAULT))
    parser.add_argument("--only", choices=("postgresql", "sqlite"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="registro-bench-") as work:
        file = Path(work) / "lista-nominal.csv"
        started = time.perf_counter()
        write_roll(file, args.rows)
        print(f"roll file: {file.stat().st_size / 1e6:,.0f} MB, written in {time.perf_counter() - started:.0f} s")
        targets = {"postgresql": args.pg, "sqlite": f"sqlite:///{Path(work) / 'bench.db'}"}
        results = {name: measure(url, file, args.rows, args.supports) for name, url in targets.items()
                   if args.only in (None, name)}
    report(results, args.rows, args.supports)


if __name__ == "__main__":
    main()
