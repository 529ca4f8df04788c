"""Benchmark: the services behind the mesa de control's pages and the aspirant's pages, at the size issue 12 names
(one process with 100,000 supports), on PostgreSQL and SQLite side by side, in one run.

    python bench/desk.py                        # 100,000 supports, both databases
    python bench/desk.py --supports 20000       # quick
    python bench/desk.py --only sqlite --runs 5 # one database

PostgreSQL: a database `registro_bench_desk` is (re)created on the server of --postgres (default
REGISTRO_BENCH_DATABASE_URL, else the test server of .ci/run) and dropped at the end. SQLite: a file in a
temporary folder.

Supports are placed directly with bulk INSERTs (not the intake, not timed): one OPL, one process, six aspirants
(the first holds 60 % of the supports: "an aspirant may have 100,000"), ten auxiliaries each, received over 30
days, 75 % by auxiliaries, 15 % by citizens, 7 % on paper, 3 % from bulk files; 30 % in review with one or two
flags, 50 % valid, 20 % invalid with the compulsa's categories or a reviewer's inconsistency; of the invalid,
one in twenty contested (an open objection); every con_inconsistencia one has a reviewer's decision, a third of
those marked for a double check. Every support has its two events (received, verified).

Each service a page load calls is timed the way the page calls it (its own transaction; read-only for readers;
the services that write are rolled back, so every run sees the same data): --runs runs after one warm-up, the
services taking turns, in milliseconds (median and best), and the median's ratio to a primary-key lookup of one
support (the baseline) and to one plain scan of the process's supports, so numbers from noisy machines compare.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PG_DEFAULT = "postgresql://registro:registro@127.0.0.1:5432/registro_bench_desk"
ASPIRANTS, AUXILIARIES_EACH = 6, 10
START = datetime(2026, 10, 2, 14, tzinfo=UTC)  # received over the 30 days that follow
NOW = START + timedelta(days=31)
FLAGS = ("manual_capture", "image_reused", "capture_rate", "device_time", "qr_other_cic", "sample")
INVALID = ("datos_no_encontrados", "duplicado_mismo_aspirante", "duplicado_otro_aspirante", "baja",
           "en_padron_no_en_lista", "fuera_de_ambito", "con_inconsistencia")
CHANNELS = ("auxiliary", "citizen", "paper", "bulk_import")
BULK = 20_000  # rows per INSERT batch
BASELINE = "baseline: one support by id"
SCAN = "reference: one table scan"  # what a page costs, in scans of the process's supports


# ---------------------------------------------------------------------------------------------- setup

def prepare(url: str) -> None:
    """An empty, migrated database with the OPL, its process, aspirants, auxiliaries and reviewers."""
    from sqlalchemy.engine import make_url

    from auth.models import Account
    from core.db import make_engine, session_scope
    from registry import migrate
    from registry.catalogue import ensure_default_inconsistencies
    from registry.models import Aspirant, Auxiliary, Opl, Process, RollImport
    from registry.states import InvitationState, RollImportState, ScopeKind
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        _recreate(parsed, drop_only=False)
    engine = make_engine(url)
    migrate.upgrade(engine)
    with session_scope(engine) as session:
        for name in ("Revisora A", "Revisor B", "Aspirante"):
            session.add(Account(display_name=name))
        opl = Opl(name="Instituto de prueba", short_name="IEE Bench", state_code=26)
        session.add(opl)
        session.flush()
        session.add(Process(opl_id=opl.id or 0, name="Gubernatura", office="Gubernatura",
                            scope_kind=ScopeKind.STATE, scope_state=26, starts_at=START, ends_at=NOW,
                            threshold_percent=Decimal(3)))
        session.add(RollImport(opl_id=opl.id or 0, source_name="bench.csv", cutoff_date=date(2026, 9, 30),
                               state=RollImportState.CURRENT))
        session.flush()
        for a in range(ASPIRANTS):
            aspirant = Aspirant(process_id=1, full_name=f"Aspirante {a + 1}", email=f"a{a}@x.mx",
                                account_id=3 if a == 0 else None)
            session.add(aspirant)
            session.flush()
            for x in range(AUXILIARIES_EACH):
                session.add(Auxiliary(aspirant_id=aspirant.id or 0, full_name=f"Auxiliar {a}-{x}",
                                      clave_elector="GOMELA00000026H000", email=f"x{a}-{x}@x.mx",
                                      phone="5500000000", state=InvitationState.ACTIVE))
        ensure_default_inconsistencies(session=session, opl_id=opl.id)
    engine.dispose()


def _recreate(parsed: Any, *, drop_only: bool) -> None:
    from sqlalchemy import text

    from core.db import make_engine
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        if not drop_only:
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def rows_for(n: int, count: int, draw: random.Random) -> dict[str, list[dict[str, Any]]]:
    """Every row support n of `count` brings (its reading, the support, its events, flags, decision and objection),
    each attribute drawn on its own so that no two are correlated; received in the order of their ids, as the
    intake stores them."""
    aspirant = 1 if draw.random() < 0.6 else draw.randint(2, ASPIRANTS)
    channel = draw.choices(CHANNELS, weights=(75, 15, 7, 3))[0]
    status, situacion = draw.choices((("in_review", "en_lista_nominal"), ("valid", "en_lista_nominal"),
                                      ("invalid", "")), weights=(30, 50, 20))[0]
    if status == "invalid":
        situacion = draw.choice(INVALID)
        status = "contested" if draw.random() < 0.05 else status
    received = START + timedelta(seconds=n * 30 * 86_400 / count)
    auxiliary = (aspirant - 1) * AUXILIARIES_EACH + draw.randint(1, AUXILIARIES_EACH) if channel == "auxiliary" \
        else None
    sid = n + 1
    rows: dict[str, list[dict[str, Any]]] = {
        "reading": [{"id": sid, "source": "pipeline", "cic": f"{100_000_000 + n:09d}", "created_at": received}],
        "support": [{"id": sid, "folio": f"RC-D{n:010d}", "idempotency_key": f"desk-{n}", "process_id": 1,
                     "aspirant_id": aspirant, "channel": channel, "auxiliary_id": auxiliary, "reading_id": sid,
                     "cic": f"{100_000_000 + n:09d}", "signature_method": "drawn",
                     "manual_capture": draw.random() < 0.05, "device_time_suspect": False, "captured_at": received,
                     "received_at": received, "status": status, "situacion_registral": situacion,
                     "citizen_key": f"GOMEL{n:09d}H000", "updated_at": received}],
        "event": [{"support_id": sid, "to_status": "received", "situacion_registral": "sin_verificar",
                   "reason": "recibido", "at": received},
                  {"support_id": sid, "from_status": "received", "to_status": status,
                   "situacion_registral": situacion, "reason": "compulsa", "at": received + timedelta(minutes=1)}],
        "flag": [], "decision": [], "objection": []}
    if status == "in_review":
        rows["flag"] = [{"support_id": sid, "flag": flag, "detail": "", "at": received}
                        for flag in draw.sample(FLAGS, draw.randint(1, 2))]
    if situacion == "con_inconsistencia":
        rows["decision"] = [{"support_id": sid, "reviewer_account_id": 1, "level": "first", "outcome": "invalid",
                             "inconsistency_id": draw.randint(1, 8), "comment": "", "decided_at": received,
                             "second_look": "pending" if draw.random() < 0.3 else None}]
    if status == "contested":
        rows["objection"] = [{"support_id": sid, "filed_by_account_id": 3, "argument": "Sí está en la lista.",
                              "state": "filed", "filed_at": received + timedelta(days=1), "resolution": ""}]
    return rows


def place_supports(url: str, count: int) -> None:
    from sqlalchemy import insert, text

    from core.db import make_engine
    from registry.models import CredentialReading, Objection, ReviewDecision, Support, SupportEvent, SupportFlag
    tables = {"reading": CredentialReading, "support": Support, "event": SupportEvent, "flag": SupportFlag,
              "decision": ReviewDecision, "objection": Objection}
    engine = make_engine(url)
    draw = random.Random(12)  # the same data on both databases and in every run
    for start in range(0, count, BULK):
        batch: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
        for n in range(start, min(start + BULK, count)):
            for name, rows in rows_for(n, count, draw).items():
                batch[name] += rows
        with engine.begin() as connection:
            for name, table in tables.items():  # in foreign-key order
                if batch[name]:
                    connection.execute(insert(table), batch[name])
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for sequenced in ("credentialreading", "support"):
                connection.execute(text(f"SELECT setval('{sequenced}_id_seq', (SELECT max(id) FROM {sequenced}))"))
            connection.execute(text("ANALYZE"))  # what autovacuum does after a day's work
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    engine.dispose()


# ---------------------------------------------------------------------------------------------- timing

@contextmanager
def unit(engine: Any, *, writes: bool) -> Iterator[Any]:
    """A page's transaction: read-only for readers; one that writes is rolled back so every run sees the same
    data (its statements and flush are timed, only the commit is not)."""
    from sqlmodel import Session

    from core.db import session_scope
    if not writes:
        with session_scope(engine, read_only=True) as session:
            yield session
        return
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.flush()
        finally:
            session.rollback()


@dataclass(frozen=True)
class Case:
    """What one page load calls: `work(session, **setup(session))`, only `work` timed."""

    work: Callable[..., object]
    writes: bool = False
    setup: Callable[[Any], dict[str, Any]] | None = None

    def once(self, engine: Any) -> float:
        with unit(engine, writes=self.writes) as session:
            given = self.setup(session) if self.setup is not None else {}
            started = time.perf_counter()
            self.work(session, **given)
            if self.writes:
                session.flush()
            return (time.perf_counter() - started) * 1000


def timed(engine: Any, runs: int, cases: dict[str, Case]) -> dict[str, tuple[float, float]]:
    """(median, best) milliseconds of each case over `runs` runs after one warm-up. The cases take turns (one run
    of each, then the next round), so a burst of load from elsewhere on the machine lands on all of them alike."""
    samples: dict[str, list[float]] = {label: [] for label in cases}
    for run in range(runs + 1):
        for label, case in cases.items():
            elapsed = case.once(engine)
            if run:
                samples[label].append(elapsed)
    return {label: (statistics.median(found), min(found)) for label, found in samples.items()}


def measure(url: str, runs: int) -> dict[str, tuple[float, float]]:
    from sqlalchemy import func
    from sqlalchemy import select as sa_select
    from sqlmodel import col

    from core.db import make_engine
    from registry.models import Support
    from registry.objections.rejected import RejectedQuery, rejected_page, support_counts
    from registry.review.decisions import Verdict
    from registry.review.desk import decide_then_next
    from registry.review.item import item_view
    from registry.review.queue import (
        QueueFilters,
        claim_first_level,
        claim_second_level,
        desk_home,
        first_level_queue,
        second_level_queue,
    )
    from registry.states import ReviewFlag, SituacionRegistral, SupportStatus
    from registry.team_progress import aspirant_totals, team_progress
    engine = make_engine(url)
    opls, me, other = frozenset({1}), 1, 2

    def claim(session: Any, filters: QueueFilters | None = None) -> dict[str, Any]:
        filters = filters or QueueFilters()
        support_id = claim_first_level(session=session, process_id=1, opl_ids=opls, reviewer_account_id=me,
                                       filters=filters, now=NOW)
        assert support_id is not None, "nothing to claim"
        return {"support_id": support_id}

    def queue(filters: QueueFilters) -> Case:
        return Case(lambda s: first_level_queue(session=s, process_id=1, opl_ids=opls, filters=filters))

    cases = {
        BASELINE: Case(lambda s: s.get(Support, 50_001)),
        SCAN: Case(lambda s: s.execute(sa_select(func.count()).where(  # status: in no index, so the table's rows
            col(Support.process_id) == 1, col(Support.status) == SupportStatus.IN_REVIEW)).one()),
        "desk home (counts)": Case(lambda s: desk_home(session=s, opl_ids=opls, reviewer_account_id=other)),
        "queue: no filter": queue(QueueFilters()),
        "queue: aspirant filter": queue(QueueFilters(aspirant_id=3)),
        "queue: flag filter": queue(QueueFilters(flag=ReviewFlag.DEVICE_TIME)),
        "queue: day filter": queue(QueueFilters(received_on=date(2026, 10, 20))),
        "claim next (first level)": Case(lambda s: claim(s), writes=True),
        "claim next (flag filter)": Case(lambda s: claim(s, QueueFilters(flag=ReviewFlag.SAMPLE)), writes=True),
        "item page": Case(lambda s, support_id: item_view(
            session=s, support_id=support_id, opl_ids=opls, viewer_account_id=me, now=NOW), writes=True,
            setup=claim),
        "decision + next claim": Case(lambda s, support_id: decide_then_next(
            session=s, support_id=support_id, opl_ids=opls, reviewer_account_id=me, verdict=Verdict(valid=True),
            filters=QueueFilters(), now=NOW), writes=True, setup=claim),
        "second level: queue": Case(lambda s: second_level_queue(
            session=s, process_id=1, opl_ids=opls, reviewer_account_id=other)),
        "second level: claim next": Case(lambda s: claim_second_level(
            session=s, process_id=1, opl_ids=opls, reviewer_account_id=other, now=NOW), writes=True),
        "aspirant: not counting, page 1": Case(lambda s: rejected_page(
            session=s, query=RejectedQuery(aspirant_id=1))),
        "aspirant: not counting, filtered": Case(lambda s: rejected_page(
            session=s, query=RejectedQuery(aspirant_id=1, category=SituacionRegistral.BAJA))),
        "aspirant: support counts": Case(lambda s: support_counts(session=s, aspirant_id=1)),
        "aspirant home: team + totals": Case(lambda s: (
            team_progress(session=s, aspirant_id=1), aspirant_totals(session=s, aspirant_id=1))),
    }
    results = timed(engine, runs, cases)
    engine.dispose()
    return results


# ---------------------------------------------------------------------------------------------- driver

def report(results: dict[str, dict[str, tuple[float, float]]], supports: int, runs: int) -> None:
    print(f"\nsupports: {supports:,} in one process; {runs} runs of each, taking turns; ms: median and best; "
          "x: the median's ratio to the baseline's and to one scan's")
    for name, measured in results.items():
        base, scan = measured[BASELINE][0], measured[SCAN][0]
        print(f"\n{name}")
        print(f"{'':36}{'median ms':>10}{'best ms':>10}{'x baseline':>12}{'x scan':>8}")
        for label, (median, best) in measured.items():
            flag = "  > 300 ms" if median > 300 else ""
            print(f"{label:36}{median:>10.1f}{best:>10.1f}{median / base:>12,.0f}{median / scan:>8.1f}{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--supports", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", default=os.environ.get("REGISTRO_BENCH_DATABASE_URL", PG_DEFAULT))
    parser.add_argument("--only", choices=("postgresql", "sqlite"))
    args = parser.parse_args()
    results: dict[str, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="registro-bench-desk-") as work:
        targets = {"postgresql": args.postgres, "sqlite": f"sqlite:///{Path(work) / 'desk.db'}"}
        for name, url in targets.items():
            if args.only not in (None, name):
                continue
            started = time.perf_counter()
            prepare(url)
            place_supports(url, args.supports)
            print(f"{name}: {args.supports:,} supports placed in {time.perf_counter() - started:.0f} s", flush=True)
            results[name] = measure(url, args.runs)
            if name == "postgresql":
                from sqlalchemy.engine import make_url
                _recreate(make_url(url), drop_only=True)
    report(results, args.supports, args.runs)


if __name__ == "__main__":
    main()
