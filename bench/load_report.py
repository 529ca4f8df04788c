"""bench/load.py's accounting: the database check after a run (every acknowledged support there once, double
taps harmless) and the side-by-side table of worker counts with the issue's targets and the ratios."""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

TARGETS = {"submissions/s": ">= 50 for 2 min", "give p99 ms": "< 2000", "decodes/s (12 MP)": ">= 6",
           "health p99 ms": "< 50", "errors (not 429/503)": "0", "missing": "0", "duplicated": "0"}
REQUESTS_NOT_COUNTED = {"health probe", "health probe, in the load client's loop"}


@dataclass
class Phase:
    seconds: float
    server_cpu: float
    client_cpu: float
    record: Any  # load.Record


@dataclass
class Result:
    phases: dict[str, Phase]
    health: Any  # load.Record of the probe, over the whole run
    database: dict[str, int] = field(default_factory=dict)


def check_database(url: str, acknowledged: dict[str, str], double_taps: list[tuple[str, str]]) -> dict[str, int]:
    """Read the supports back: acknowledged ones present once, nothing created by a repeated idempotency key."""
    from sqlmodel import Session, col, func, select

    from core.db import make_engine
    from registry.models import Support
    engine = make_engine(url)
    with Session(engine) as db:
        stored = Counter(db.exec(select(Support.folio)).all())
        keys = db.exec(select(func.count(col(Support.id)), func.count(func.distinct(Support.idempotency_key)))).one()
    engine.dispose()
    acked = set(acknowledged)
    return {
        "acknowledged": len(acked),
        "present once": sum(1 for folio in acked if stored.get(folio) == 1),
        "missing": len(acked - set(stored)),
        "duplicated": sum(count - 1 for count in stored.values() if count > 1) + (keys[0] - keys[1]),
        "stored, answer lost": len(set(stored) - acked),  # committed, but the client never saw its answer
        "double taps": len(double_taps),
        "double tap, same folio": sum(1 for first, second in double_taps if first == second),
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def _requests(record: Any) -> int:
    return sum(sum(c.values()) for step, c in record.statuses.items() if step not in REQUESTS_NOT_COUNTED)


def summary(result: Result) -> dict[str, str]:
    """One column of the table."""
    rows: dict[str, str] = {}
    decode, load = result.phases["decode"], result.phases["load"]
    decodes = len(decode.record.latencies.get("decode (12 MP back)", []))
    rows["decodes/s (12 MP)"] = f"{decodes / decode.seconds:.2f}"
    flows = decode.record.completed["whole flow from the back photo"]
    rows["whole flows/s (decode phase)"] = f"{flows / decode.seconds:.2f}"
    rows["submissions/s"] = f"{load.record.completed['support (photos taken)'] / load.seconds:.1f}"
    rows["field captures/s"] = f"{load.record.completed['field capture'] / load.seconds:.1f}"
    rows["report pages/s"] = f"{load.record.completed['report page'] / load.seconds:.1f}"
    for name, phase in result.phases.items():
        for step, values in sorted(phase.record.latencies.items()):
            rows[f"{name}: {step} p50/p95/p99 ms"] = (f"{_percentile(values, .5):.0f}/{_percentile(values, .95):.0f}/"
                                                    f"{_percentile(values, .99):.0f} (n={len(values)})")
    give = load.record.latencies.get("give", [])
    rows["give p99 ms"] = f"{_percentile(give, .99):.0f}"
    health = result.health.latencies.get("health probe", [])
    rows["health p99 ms"] = f"{_percentile(health, .99):.1f} (max {_percentile(health, 1.0):.0f}, n={len(health)})"
    errors, shed = Counter[str](), Counter[str]()
    for name, phase in [*result.phases.items(), ("run", Phase(0, 0, 0, result.health))]:
        for step, statuses in phase.record.statuses.items():
            for status, count in statuses.items():
                if status in ("429", "503"):
                    shed[f"{status} {step}"] += count
                elif not (status.isdigit() and int(status) < 400):
                    errors[f"{status} {name}: {step}"] += count
    rows["errors (not 429/503)"] = ", ".join(f"{k} x{v}" for k, v in errors.items()) or "0"
    rows["shed (429/503, retried)"] = ", ".join(f"{k} x{v}" for k, v in shed.items()) or "0"
    for name, phase in result.phases.items():
        requests = _requests(phase.record)
        rows[f"{name}: requests"] = f"{requests} in {phase.seconds:.0f} s"
        rows[f"{name}: server CPU s / request"] = f"{phase.server_cpu / max(requests, 1) * 1000:.1f} ms"
        rows[f"{name}: server CPU / client CPU s"] = f"{phase.server_cpu:.0f} / {phase.client_cpu:.0f}"
        if phase.record.exhausted:
            rows[f"{name}: ran out of"] = ", ".join(sorted(phase.record.exhausted))
    rows.update({key: str(value) for key, value in result.database.items()})
    return rows


def print_results(results: dict[int, Result], options: argparse.Namespace) -> None:
    columns = {workers: summary(result) for workers, result in results.items()}
    names = list(dict.fromkeys(name for column in columns.values() for name in column))
    width = max(len(name) for name in names) + 2
    header = "".join(f"{f'--workers {w}':>34}" for w in columns)
    print(f"\nbench/load.py: decode phase {options.decode_seconds:.0f} s, load phase {options.duration:.0f} s, "
          f"{options.citizens} citizens + {options.auxiliaries} auxiliaries + 2 readers at once")
    print(f"{'':{width}}{header}{'target':>22}")
    for name in names:
        cells = "".join(f"{columns[w].get(name, ''):>34}" for w in columns)
        print(f"{name:{width}}{cells}{TARGETS.get(name, ''):>22}")
    if len(columns) > 1:
        first, *others = sorted(columns)
        for other in others:
            print(f"\nratios --workers {other} / --workers {first}:")
            for name in ("submissions/s", "decodes/s (12 MP)", "field captures/s"):
                a, b = float(columns[first][name]), float(columns[other][name])
                print(f"  {name:28} {b / a if a else float('nan'):.2f}")
            for phase in ("decode", "load"):
                key = f"{phase}: server CPU s / request"
                a, b = float(columns[first][key].split()[0]), float(columns[other][key].split()[0])
                print(f"  {'CPU per request, ' + phase:28} {b / a if a else float('nan'):.2f}")
