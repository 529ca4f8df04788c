"""Open data: small counts suppressed at k, the rest rounded down to multiples of k, a row's total withheld next to
a suppressed cell, so that no subtraction gives a small count back (checked by enumerating every small table);
read from the report's figures, with no personal data."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlmodel import Session

from core.clock import utcnow
from registry.models import GeoUnit, Opl, Process
from registry.reports.open_data import (
    Mark,
    as_json,
    day_table,
    municipality_table,
    process_data,
    publish,
    row_cells,
    shown,
)
from registry.states import GeoKind
from registry.verification.compulsa import verify_process
from tests.factories import add
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import Citizen, citizen, make_roll, place_support


@dataclass(frozen=True)
class Seeded:
    process_id: int
    people: list[Citizen]


def seed_open_data(session: Session) -> Seeded:
    """Sonora: «Rosa Aspirante» with 12 supports in Hermosillo (30), 3 in Cajeme (31) and 2 whose credential is
    not in the roll (not located), over two days; «Tomás Aspirante» with none."""
    opl: Opl = make_opl(session, state_code=26)
    process: Process = make_process(session, opl=opl, name="Gubernatura Sonora 2027")
    for number, name in ((30, "Hermosillo"), (31, "Cajeme")):
        add(session, GeoUnit(kind=GeoKind.MUNICIPALITY, state_code=26, municipality=number, name=name))
    people = [citizen(municipality=30) for _ in range(12)] + [citizen(municipality=31) for _ in range(3)]
    make_roll(session, opl=opl, citizens=people)
    rosa = make_aspirant(session, process=process, name="Rosa Aspirante")
    make_aspirant(session, process=process, name="Tomás Aspirante")
    assert rosa.id is not None and process.id is not None
    start = utcnow() - timedelta(days=3)
    for n, cic in enumerate([person.cic for person in people] + ["777000001", "777000002"]):
        place_support(session, aspirant_id=rosa.id, process_id=process.id, cic=cic,
                      received_at=start + timedelta(days=n // 10, minutes=n))
    session.commit()
    verify_process(session=session, process_id=process.id, now=utcnow())
    session.commit()
    return Seeded(process.id, people)


@pytest.mark.parametrize(("count", "k", "published"), [
    (0, 5, "0"), (1, 5, "<5"), (4, 5, "<5"), (5, 5, "5"), (9, 5, "5"), (10, 5, "10"), (14, 5, "10"),
    (9, 10, "<10"), (10, 10, "10"), (19, 10, "10"), (1, 1, "1"), (7, 1, "7"),
])
def test_the_k_boundary(count: int, k: int, published: str) -> None:
    assert str(shown(publish(count, k))) == published


def test_a_row_withholds_its_total_next_to_a_suppressed_cell() -> None:
    cells = row_cells(16, {"a": 12, "b": 4, "c": 0}, 5)
    assert [shown(cells[name]) for name in ("enviados", "a", "b", "c")] == ["*", 10, "<5", 0]
    cells = row_cells(17, {"a": 12, "b": 5, "c": 0}, 5)
    assert [shown(cells[name]) for name in ("enviados", "a", "b", "c")] == [15, 10, 5, 0]
    assert all(cell.value is None for cell in row_cells(3, {"a": 3}, 5).values())


def _possible_values(shapes: dict[tuple[object, ...], list[tuple[int, ...]]], k: int) -> list[tuple[object, int]]:
    """Each (published table, small cell) and how many true values it could have, given everything published."""
    found = []
    for table, truths in shapes.items():
        for index, shown_cell in enumerate(table):
            if shown_cell == f"<{k}":
                found.append((table, len({truth[index] for truth in truths})))
    return found


@pytest.mark.parametrize("k", [4, 5])
def test_no_small_cell_comes_back_from_its_rows_total(k: int) -> None:
    """Every row of three columns up to 3k - 1: whatever is published, each "<k" cell could still be any of
    several counts (an exact total, or one rounded the usual way, gives it back)."""
    shapes: dict[tuple[object, ...], list[tuple[int, ...]]] = defaultdict(list)
    for parts in itertools.product(range(3 * k), repeat=3):
        cells = row_cells(sum(parts), dict(zip("abc", parts, strict=True)), k)
        shapes[tuple(shown(cells[name]) for name in ("enviados", "a", "b", "c"))].append((sum(parts), *parts))
    assert all(count >= 2 for _table, count in _possible_values(shapes, k))


@pytest.mark.parametrize("k", [4, 5])
def test_no_small_cell_comes_back_from_the_other_table(k: int) -> None:
    """The same column by municipality and by day adds up to the same total: every 2 × 2 table of counts up to
    3k - 1 (two municipalities, two days), and no "<k" cell is pinned to one value by the other table's ranges.
    Tables near the edge of the enumeration are left out (their neighbours beyond it are not enumerated)."""
    limit = 3 * k
    shapes: dict[tuple[object, ...], list[tuple[int, ...]]] = defaultdict(list)
    near_edge: set[tuple[object, ...]] = set()
    for a1, a2, b1, b2 in itertools.product(range(limit), repeat=4):
        totals = (a1 + a2, b1 + b2, a1 + b1, a2 + b2)  # municipality A, B; day 1, 2
        published = tuple(str(shown(row_cells(total, {"x": total}, k)["x"])) for total in totals)
        shapes[published].append(totals)
        if max(a1, a2, b1, b2) >= limit - k - 1:
            near_edge.add(published)
    pinned = [(table, count) for table, count in _possible_values(shapes, k) if count < 2 and table not in near_edge]
    assert pinned == []


def test_the_published_figures_come_from_the_reports_and_hold_nothing_personal(session: Session) -> None:
    seeded = seed_open_data(session)
    data = process_data(session=session, process_id=seeded.process_id, k=5)
    assert data is not None
    assert [aspirant.aspirante for aspirant in data.aspirantes] == ["Rosa Aspirante", "Tomás Aspirante"]
    rosa, tomas = data.aspirantes
    assert tomas.municipios == [] and tomas.dias == []
    rows = {(row.state_code, row.municipality): row for row in rosa.municipios}
    assert (rows[(26, 30)].name, rows[(26, 31)].name) == ("Hermosillo", "Cajeme")
    assert shown(rows[(26, 30)].cells["enviados"]) == 10  # 12, rounded down
    assert shown(rows[(26, 31)].cells["enviados"]) == "*"  # 3: the row's small cell is not given back
    assert rows[(0, 0)].cells["otra_situacion_registral"].mark is Mark.SMALL  # 2 not found in the roll
    # 10 the first day; 7 the next, 2 of them not found in the roll: "<5" in that column, so the total is withheld
    assert [shown(row.cells["enviados"]) for row in rosa.dias] == [10, "*"]
    assert shown(rosa.dias[1].cells["otra_situacion_registral"]) == "<5"

    published = repr(as_json(data)) + repr(municipality_table(data)) + repr(day_table(data))
    for person in seeded.people:
        assert person.clave_elector not in published and person.cic not in published
    for private in ("MARIA", "LOPEZ", "PEREZ", "777000001", "RC-T"):
        assert private not in published
    assert process_data(session=session, process_id=seeded.process_id + 1000, k=5) is None
