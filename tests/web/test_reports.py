"""The report pages: the OPL's Resumen por candidatura with the threshold, the aspirant's own progress, both
audiences' reports by place (drill-down and back) and by day. Every number on a page is the one
registry.reports.figures returns for supports placed with the factories and run through the compulsa; the
downloads parse back with the same numbers; access is scoped; typed-in query parameters never break a page."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag
from python_calamine import CalamineWorkbook
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from auth.roles import Role
from core.clock import utcnow
from core.db import session_scope
from registry.models import Aspirant, Opl, Support
from registry.reports.categories import CATEGORIES, OTRA_SITUACION
from registry.reports.figures import Tally, by_day, by_place, process_total, summary
from registry.reports.places import PlaceKey
from registry.states import GeoKind, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from registry.verification.compulsa import verify_process
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import citizen, make_roll, place_support

FORMULA_NAME = '=HYPERLINK("http://x.example","Clic")'
COLUMNS = ("enviados", *CATEGORIES)


@dataclass(frozen=True)
class Campaign:
    process_id: int
    opl_id: int
    mine: int  # the aspirant "Carmen", with a support in every column
    theirs: int  # a second aspirant whose name looks like a formula
    other_process_id: int  # a process of another OPL


def _support(db: Session, aspirant: Aspirant, cic: str, *, days_ago: int = 2) -> Support:
    assert aspirant.id is not None
    return place_support(db, aspirant_id=aspirant.id, process_id=aspirant.process_id, cic=cic,
                         received_at=utcnow() - timedelta(days=days_ago))


def _move(db: Session, support: Support, status: SupportStatus, situacion: SituacionRegistral) -> None:
    db.refresh(support)  # the compulsa wrote with set-based SQL: the row in memory is from before it
    record_transition(session=db, support=support, to_status=status, situacion=situacion, reason="prueba",
                      actor_account_id=None, now=utcnow())


def _campaign(app: Starlette) -> Campaign:
    """Two districts (5: municipality 30 with two secciones; 6: municipality 31), a baja; Carmen's supports
    land in every column of seed 000, some on other days, some never located."""
    with session_scope(app.state.engine) as db:
        opl = make_opl(db, state_code=26)
        process = make_process(db, opl=opl)
        process.dispersion_unit, process.dispersion_min_share = GeoKind.MUNICIPALITY, Decimal("0.5")
        process.dispersion_unit_percent = Decimal("10")
        db.add(process)
        people = ([citizen(district=5, municipality=30, seccion=1001 + n % 2) for n in range(20)]
                  + [citizen(district=6, municipality=31, seccion=1100) for _ in range(20)]
                  + [citizen(district=6, municipality=31, seccion=1100, situacion="baja_defuncion")])
        make_roll(db, opl=opl, citizens=people)
        mine = make_aspirant(db, process=process, name="Carmen Aspirante")
        theirs = make_aspirant(db, process=process, name=FORMULA_NAME)
        for n in range(3):
            _support(db, mine, people[n].cic, days_ago=3)
        _support(db, mine, people[0].cic)  # the same person again: duplicado (mismo aspirante)
        _support(db, mine, people[20].cic)
        _support(db, mine, people[40].cic)  # a baja: en otra situación registral
        _support(db, mine, "999999999")  # not in the roll: otra situación, never located
        reviewed = _support(db, mine, people[5].cic)
        rejected = _support(db, mine, people[6].cic)
        _support(db, theirs, people[2].cic)  # Carmen's supporter, again: duplicado con otro aspirante (later)
        _support(db, theirs, people[10].cic)
        assert process.id is not None and opl.id is not None
        verify_process(session=db, process_id=process.id, now=utcnow())
        _move(db, reviewed, SupportStatus.IN_REVIEW, SituacionRegistral.EN_LISTA_NOMINAL)
        _move(db, rejected, SupportStatus.INVALID, SituacionRegistral.CON_INCONSISTENCIA)
        _support(db, mine, people[7].cic, days_ago=0)  # not verified yet: en procesamiento
        other = make_process(db, opl=make_opl(db, state_code=26), name="Otro proceso")
        assert mine.id is not None and theirs.id is not None and other.id is not None
        return Campaign(process.id, opl.id, mine.id, theirs.id, other.id)


@pytest.fixture
def campaign(app: Starlette) -> Campaign:
    return _campaign(app)


@pytest.fixture
def opl_client(client: TestClient, sign_in_with_role: Any, campaign: Campaign) -> TestClient:
    sign_in_with_role(client, Role.OPL_ADMIN, opl_id=campaign.opl_id)
    return client


def _soup(response: Any) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


def _attr(tag: Tag, name: str) -> str:
    return str(tag.get(name))


def _number(cell: Tag) -> int:
    summary = cell.find("summary")
    text = (summary or cell).get_text(" ", strip=True).split(" ")[0]
    return int(text.replace(",", ""))


def _row_counts(row: Tag) -> dict[str, int]:
    return {cell["data-columna"]: _number(cell) for cell in row.select("[data-columna]")
            if cell["data-columna"] in COLUMNS}


def _tally_counts(tally: Tally) -> dict[str, int]:
    return {"enviados": tally.enviados, **{category.value: tally.counts[category] for category in CATEGORIES}}


def _read(app: Starlette, reader: Any, **kwargs: Any) -> Any:
    with Session(app.state.engine) as db:
        return reader(session=db, **kwargs)


def _conserved(counts: dict[str, int]) -> bool:
    return counts["enviados"] == sum(n for name, n in counts.items() if name != "enviados")


# ---------------------------------------------------------------- the OPL's summary


def test_the_opl_summary_shows_figures_columns_for_every_aspirant_and_the_total(
        app: Starlette, opl_client: TestClient, campaign: Campaign) -> None:
    page = _soup(opl_client.get(f"/opl/procesos/{campaign.process_id}/reportes"))
    expected = {row.aspirant_id: row for row in _read(app, summary, process_id=campaign.process_id)}
    table = page.select_one("#tabla-resumen")
    assert table is not None and table.find("caption") is not None
    header = [th.get_text(" ", strip=True) for th in table.select("thead th")]
    assert header == ["Aspirante", "Apoyos enviados", "En Lista Nominal", "Duplicados (mismo aspirante)",
                      "En otra situación registral", "Con inconsistencia", "En procesamiento", "En mesa de control"]
    rows = table.select("tbody tr")
    assert sorted(int(_attr(row, "data-aspirante")) for row in rows) == sorted(expected)
    for row in rows:
        counts = _row_counts(row)
        assert counts == _tally_counts(expected[int(_attr(row, "data-aspirante"))].tally)
        assert _conserved(counts)
    mine = _row_counts(table.select_one(f'tr[data-aspirante="{campaign.mine}"]'))  # type: ignore[arg-type]
    assert [column for column in COLUMNS if mine[column] == 0] == []  # the campaign reaches every column
    total = table.select_one("tfoot tr")
    assert total is not None
    assert _row_counts(total) == _tally_counts(_read(app, process_total, process_id=campaign.process_id))


def test_the_other_situacion_column_opens_its_breakdown(app: Starlette, opl_client: TestClient,
                                                        campaign: Campaign) -> None:
    page = _soup(opl_client.get(f"/opl/procesos/{campaign.process_id}/reportes"))
    [mine] = _read(app, summary, process_id=campaign.process_id, aspirant_id=campaign.mine)
    cell = page.select_one(f'tr[data-aspirante="{campaign.mine}"] [data-columna="otra_situacion_registral"]')
    assert cell is not None and cell.find("details") is not None
    listed = [item.get_text(" ", strip=True) for item in cell.select("details li")]
    assert len(listed) == len(OTRA_SITUACION)
    assert f"Baja del padrón: {mine.tally.otra[SituacionRegistral.BAJA]}" in listed
    assert f"Datos no encontrados: {mine.tally.otra[SituacionRegistral.DATOS_NO_ENCONTRADOS]}" in listed


def test_the_threshold_table_matches_the_figures(app: Starlette, opl_client: TestClient, campaign: Campaign) -> None:
    page = _soup(opl_client.get(f"/opl/procesos/{campaign.process_id}/reportes"))
    for row in _read(app, summary, process_id=campaign.process_id):
        line = page.select_one(f'#tabla-umbral tr[data-aspirante="{row.aspirant_id}"]')
        assert line is not None
        cells = {cell["data-columna"]: cell.get_text(" ", strip=True) for cell in line.select("[data-columna]")}
        threshold = row.threshold
        assert threshold.requeridos is not None and threshold.dispersion is not None
        assert cells["requeridos"] == f"{threshold.requeridos:,}"
        assert cells["contados"] == f"{threshold.contados:,}"
        assert cells["porcentaje"] == f"{threshold.porcentaje:.2f} %"
        assert cells["dispersion"] == f"{threshold.dispersion.units_met} de {threshold.dispersion.units_needed}"
        assert cells["cumple"] == ("Sí" if threshold.met else "No")


def test_the_opl_page_draws_an_accessible_chart_beside_its_table(opl_client: TestClient, campaign: Campaign) -> None:
    page = _soup(opl_client.get(f"/opl/procesos/{campaign.process_id}/reportes"))
    chart = page.select_one("figure.report-chart svg")
    assert chart is not None and chart["role"] == "img"
    assert chart.find("title") is not None and chart.find("desc") is not None
    wrapper = page.select_one("#tabla-resumen").find_parent("div")  # type: ignore[union-attr]
    assert "table-wrap" in wrapper["class"] and wrapper["tabindex"] == "0"  # type: ignore[index]


# ---------------------------------------------------------------- access


def test_another_opls_process_is_not_found(opl_client: TestClient, campaign: Campaign) -> None:
    for page in ("", "/lugar", "/dia"):
        assert opl_client.get(f"/opl/procesos/{campaign.other_process_id}/reportes{page}").status_code == 404
        assert opl_client.get(f"/opl/procesos/987654/reportes{page}").status_code == 404


def test_a_reviewer_of_the_opl_sees_the_report(client: TestClient, sign_in_with_role: Any,
                                               campaign: Campaign) -> None:
    sign_in_with_role(client, Role.REVIEWER, opl_id=campaign.opl_id)
    assert client.get(f"/opl/procesos/{campaign.process_id}/reportes").status_code == 200


def test_a_citizen_is_refused_and_a_stranger_sent_to_sign_in(client: TestClient, sign_in_with_role: Any,
                                                             campaign: Campaign) -> None:
    answer = client.get(f"/opl/procesos/{campaign.process_id}/reportes", follow_redirects=False)
    assert answer.status_code in (302, 303) and answer.headers["location"].startswith("/entrar")
    sign_in_with_role(client, Role.CITIZEN)
    assert client.get(f"/opl/procesos/{campaign.process_id}/reportes").status_code == 403
    assert client.get("/aspirante/avance").status_code == 403


def test_an_aspirant_cannot_open_the_opls_report(client: TestClient, sign_in_with_role: Any,
                                                 campaign: Campaign) -> None:
    sign_in_with_role(client, Role.ASPIRANT, aspirant_id=campaign.mine)
    assert client.get(f"/opl/procesos/{campaign.process_id}/reportes").status_code == 403


def test_the_process_selector_leads_to_the_chosen_process_of_the_opl(opl_client: TestClient,
                                                                     campaign: Campaign) -> None:
    answer = opl_client.get(f"/opl/reportes?proceso={campaign.process_id}", follow_redirects=False)
    assert answer.headers["location"] == f"/opl/procesos/{campaign.process_id}/reportes"
    answer = opl_client.get(f"/opl/reportes?proceso={campaign.other_process_id}", follow_redirects=False)
    assert answer.headers["location"] == f"/opl/procesos/{campaign.process_id}/reportes"  # not theirs: the first


# ---------------------------------------------------------------- by place: down to the sección and back up


def _place_rows(page: BeautifulSoup) -> dict[str, dict[str, int]]:
    return {_attr(row, "data-lugar"): _row_counts(row) for row in page.select("#tabla-lugar tbody tr[data-lugar]")}


def _expected_places(app: Starlette, campaign: Campaign, level: GeoKind, within: PlaceKey | None,
                     aspirant_id: int | None = None) -> dict[str, dict[str, int]]:
    rows = _read(app, by_place, process_id=campaign.process_id, aspirant_id=aspirant_id, level=level, within=within)
    return {f"{r.key.state_code}-{r.key.district}-{r.key.municipality}-{r.key.seccion}": _tally_counts(r.tally)
            for r in rows}


def test_the_place_report_drills_down_to_the_seccion_and_its_totals_conserve(
        app: Starlette, opl_client: TestClient, campaign: Campaign) -> None:
    base = f"/opl/procesos/{campaign.process_id}/reportes/lugar"
    steps = [("", GeoKind.STATE, None), ("?estado=26", GeoKind.DISTRICT, PlaceKey(26)),
             ("?estado=26&distrito=5", GeoKind.MUNICIPALITY, PlaceKey(26, 5)),
             ("?estado=26&distrito=5&municipio=30", GeoKind.SECCION, PlaceKey(26, 5, 30))]
    everyone = _tally_counts(_read(app, process_total, process_id=campaign.process_id))
    for query, level, within in steps:
        page = _soup(opl_client.get(base + query))
        expected = _expected_places(app, campaign, level, within)
        assert _place_rows(page) == expected and expected
        total = page.select_one("#tabla-lugar tfoot tr")
        assert total is not None
        summed = {column: sum(row[column] for row in expected.values()) for column in COLUMNS}
        assert _row_counts(total) == summed and _conserved(summed)
        if within is None:  # every support is somewhere: the located ones and the "sin ubicar" row
            assert summed == everyone
            assert "0-0-0-0" in expected and "Sin ubicar" in page.select_one("#tabla-lugar").get_text()  # type: ignore[union-attr]
        crumbs = page.select(".report-crumbs li")
        assert len(crumbs) == (len(query.split("&")) + 1 if query else 1)
        assert crumbs[-1].find("a") is None and crumbs[-1].select_one("[aria-current=page]") is not None
        if level is not GeoKind.SECCION:  # each located row links one level down, the way this test walked
            links = [a["href"] for a in page.select("#tabla-lugar tbody th a")]
            assert len(links) == len([key for key in expected if key != "0-0-0-0"])
        else:
            assert page.select("#tabla-lugar tbody th a") == []
    up = [a["href"] for a in page.select(".report-crumbs a")]
    assert up == [base, base + "?estado=26", base + "?estado=26&distrito=5"]


def test_the_place_report_of_one_aspirant(app: Starlette, opl_client: TestClient, campaign: Campaign) -> None:
    page = _soup(opl_client.get(f"/opl/procesos/{campaign.process_id}/reportes/lugar?estado=26&aspirante="
                                f"{campaign.theirs}"))
    assert _place_rows(page) == _expected_places(app, campaign, GeoKind.DISTRICT, PlaceKey(26), campaign.theirs)
    links = [a["href"] for a in page.select("#tabla-lugar tbody th a")]
    assert links and all(f"aspirante={campaign.theirs}" in link for link in links)  # the filter stays on the way down


# ---------------------------------------------------------------- by day


def test_the_daily_report_shows_new_and_cumulative_per_day(app: Starlette, opl_client: TestClient,
                                                           campaign: Campaign) -> None:
    page = _soup(opl_client.get(f"/opl/procesos/{campaign.process_id}/reportes/dia"))
    expected = _read(app, by_day, process_id=campaign.process_id, aspirant_id=None)
    assert len(expected) >= 2
    rows = page.select("#tabla-dia tbody tr")
    seen = [(row["data-dia"], *(int(cell.get_text(strip=True).replace(",", "")) for cell in row.select("td")))
            for row in rows]
    assert seen == [(day.day.isoformat(), day.tally.enviados, day.cumulative_enviados,
                     day.cumulative_en_lista_nominal) for day in expected]
    chart = page.select_one("figure.report-chart svg[role=img]")
    assert chart is not None and chart.find("desc") is not None


# ---------------------------------------------------------------- the aspirant's own progress


@pytest.fixture
def aspirant_client(client: TestClient, sign_in_with_role: Any, campaign: Campaign) -> TestClient:
    sign_in_with_role(client, Role.ASPIRANT, aspirant_id=campaign.mine)
    return client


def test_the_aspirant_sees_their_own_row_threshold_and_dispersion(app: Starlette, aspirant_client: TestClient,
                                                                  campaign: Campaign) -> None:
    page = _soup(aspirant_client.get("/aspirante/avance"))
    [mine] = _read(app, summary, process_id=campaign.process_id, aspirant_id=campaign.mine)
    table = page.select_one("#tabla-resumen")
    assert table is not None
    assert _row_counts(table) == _tally_counts(mine.tally)
    assert FORMULA_NAME not in page.get_text()  # nothing of the other aspirant
    bar = page.select_one("progress#umbral-barra")
    threshold = mine.threshold
    assert bar is not None and threshold.requeridos is not None
    assert (int(_attr(bar, "value")), int(_attr(bar, "max"))) == (min(threshold.contados, threshold.requeridos),
                                                   threshold.requeridos)
    assert bar["aria-labelledby"] == "umbral-texto"
    assert f"{threshold.porcentaje:.2f}" in page.select_one("#umbral-texto").get_text()  # type: ignore[union-attr]
    dispersion = threshold.dispersion
    assert dispersion is not None
    rows = page.select("#tabla-dispersion tbody tr")
    shown = [(row.th.get_text(strip=True), int(row.select_one('[data-columna="faltan"]').get_text()))  # type: ignore[union-attr]
             for row in rows]
    assert shown == [(unit.name, unit.missing) for unit in dispersion.units]
    met = [row.select_one('[data-columna="cumplida"]').get_text() == "Sí" for row in rows]  # type: ignore[union-attr]
    assert met == sorted(met) and False in met and True in met  # the units still missing come first


def test_the_aspirant_never_sees_another_aspirants_figures(app: Starlette, aspirant_client: TestClient,
                                                          campaign: Campaign) -> None:
    [mine] = _read(app, summary, process_id=campaign.process_id, aspirant_id=campaign.mine)
    for path in ("/aspirante/avance", "/aspirante/avance/lugar", "/aspirante/avance/dia"):
        page = _soup(aspirant_client.get(f"{path}?aspirante={campaign.theirs}"))
        assert FORMULA_NAME not in page.get_text()
    page = _soup(aspirant_client.get(f"/aspirante/avance?aspirante={campaign.theirs}"))
    assert _row_counts(page.select_one("#tabla-resumen")) == _tally_counts(mine.tally)  # type: ignore[arg-type]
    page = _soup(aspirant_client.get(f"/aspirante/avance/lugar?aspirante={campaign.theirs}&estado=26"))
    assert _place_rows(page) == _expected_places(app, campaign, GeoKind.DISTRICT, PlaceKey(26), campaign.mine)
    answer = aspirant_client.get(f"/aspirante/avance/dia?aspirante={campaign.theirs}&formato=csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    days = _read(app, by_day, process_id=campaign.process_id, aspirant_id=campaign.mine)
    assert [int(row[1]) for row in rows[1:]] == [day.tally.enviados for day in days]


def test_an_aspirant_account_without_a_candidacy_gets_a_message(client: TestClient, sign_in_with_role: Any) -> None:
    sign_in_with_role(client, Role.ASPIRANT)
    for path in ("/aspirante/avance", "/aspirante/avance/lugar", "/aspirante/avance/dia?formato=csv"):
        page = _soup(client.get(path))
        assert "todavía no está ligada a una candidatura" in page.get_text()


# ---------------------------------------------------------------- typed-in query parameters


HOSTILE = ["abc", "-1", "0", "1e9", "²", "9" * 400, "26%00", "<script>", "' OR 1=1 --", "", "1.5", "%ff"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_query_parameters_never_break_a_page(opl_client: TestClient, campaign: Campaign,
                                                     value: str) -> None:
    base = f"/opl/procesos/{campaign.process_id}/reportes"
    for path in (base, base + "/lugar", base + "/dia"):
        for name in ("aspirante", "estado", "distrito", "municipio", "formato", "tabla", "proceso"):
            answer = opl_client.get(path, params={name: value, "estado": "26"} if name != "estado" else {name: value})
            assert answer.status_code == 200, (path, name, value)
            assert "<script>" not in answer.text
    answer = opl_client.get("/opl/reportes", params={"proceso": value}, follow_redirects=False)
    assert answer.status_code == 303


def test_a_place_that_cannot_be_read_is_ignored_with_a_message(app: Starlette, opl_client: TestClient,
                                                               campaign: Campaign) -> None:
    base = f"/opl/procesos/{campaign.process_id}/reportes/lugar"
    page = _soup(opl_client.get(base + "?estado=26&distrito=abc&municipio=30"))
    assert "no es válido" in page.select_one("[role=alert]").get_text()  # type: ignore[union-attr]
    assert _place_rows(page) == _expected_places(app, campaign, GeoKind.DISTRICT, PlaceKey(26))
    page = _soup(opl_client.get(base + "?estado=5&distrito=999&municipio=99999"))  # valid, but nobody there
    assert _place_rows(page) == {} and "Todavía no hay apoyos aquí." in page.get_text()
    page = _soup(opl_client.get(f"/opl/procesos/{campaign.process_id}/reportes?aspirante=987654&formato=pdf"))
    alerts = page.select_one("[role=alert]").get_text()  # type: ignore[union-attr]
    assert "no es de este proceso" in alerts and "CSV o XLSX" in alerts


# ---------------------------------------------------------------- downloads


def _csv(answer: Any) -> list[list[str]]:
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))


def _xlsx(answer: Any, tmp_path: Any) -> list[list[Any]]:
    assert answer.status_code == 200 and "spreadsheetml" in answer.headers["content-type"]
    path = tmp_path / "descarga.xlsx"
    path.write_bytes(answer.content)
    workbook = CalamineWorkbook.from_path(str(path))
    return list(workbook.get_sheet_by_index(0).to_python())


def test_the_summary_downloads_carry_the_same_numbers(app: Starlette, opl_client: TestClient, campaign: Campaign,
                                                      tmp_path: Any) -> None:
    base = f"/opl/procesos/{campaign.process_id}/reportes"
    expected = {row.aspirante: row.tally for row in _read(app, summary, process_id=campaign.process_id)}
    expected["Total"] = _read(app, process_total, process_id=campaign.process_id)
    page = _soup(opl_client.get(base))
    links = [a["href"] for a in page.select(".report-downloads a")]
    assert base + "?tabla=resumen&formato=csv" in links and base + "?tabla=resumen&formato=xlsx" in links
    for rows in (_csv(opl_client.get(base + "?tabla=resumen&formato=csv")),
                 _xlsx(opl_client.get(base + "?tabla=resumen&formato=xlsx"), tmp_path)):
        header = [str(cell) for cell in rows[0]]
        assert header[:3] == ["Aspirante", "Apoyos enviados", "En Lista Nominal"]
        found = {str(row[0]): [int(float(cell)) for cell in row[1:]] for row in rows[1:]}
        names = {name.removeprefix("'") for name in found}
        assert names == set(expected)
        assert "'" + FORMULA_NAME in found  # a name that looks like a formula stays text
        for name, tally in expected.items():
            line = found.get(name, found.get("'" + name))
            assert line is not None
            assert line[:4] == [tally.enviados, tally.en_lista_nominal, tally.duplicados_mismo_aspirante,
                                tally.otra_situacion_registral]
            assert line[4:4 + len(OTRA_SITUACION)] == [tally.otra[s] for s in OTRA_SITUACION]
            assert line[-3:] == [tally.con_inconsistencia, tally.en_procesamiento, tally.en_mesa_de_control]


def test_the_place_and_day_downloads_carry_the_same_numbers(app: Starlette, opl_client: TestClient,
                                                            campaign: Campaign, tmp_path: Any) -> None:
    base = f"/opl/procesos/{campaign.process_id}/reportes"
    answer = opl_client.get(base + "/lugar?estado=26&formato=xlsx")
    assert "proceso_" in answer.headers["content-disposition"] and "Carmen" not in answer.headers["content-disposition"]
    rows = _xlsx(answer, tmp_path)
    expected = _read(app, by_place, process_id=campaign.process_id, aspirant_id=None, level=GeoKind.DISTRICT,
                     within=PlaceKey(26))
    assert [int(float(row[2])) for row in rows[1:-1]] == [r.key.district for r in expected]
    assert [int(float(row[5])) for row in rows[1:-1]] == [r.tally.enviados for r in expected]
    assert rows[-1][0] == "Total" and int(float(rows[-1][5])) == sum(r.tally.enviados for r in expected)
    days = _read(app, by_day, process_id=campaign.process_id, aspirant_id=None)
    rows = _csv(opl_client.get(base + "/dia?formato=csv"))
    assert rows[1:] == [[d.day.isoformat(), str(d.tally.enviados), str(d.cumulative_enviados),
                         str(d.cumulative_en_lista_nominal)] for d in days]


def test_the_aspirants_dispersion_downloads(app: Starlette, aspirant_client: TestClient, campaign: Campaign) -> None:
    [mine] = _read(app, summary, process_id=campaign.process_id, aspirant_id=campaign.mine)
    rows = _csv(aspirant_client.get("/aspirante/avance?tabla=dispersion&formato=csv"))
    assert rows[0][0] == "Municipio"
    dispersion = mine.threshold.dispersion
    assert dispersion is not None
    assert [(row[0], int(row[5])) for row in rows[1:]] == [(u.name, u.missing) for u in dispersion.units]


def test_the_pages_speak_english_when_asked(opl_client: TestClient, campaign: Campaign) -> None:
    base = f"/opl/procesos/{campaign.process_id}/reportes"
    page = _soup(opl_client.get(base + "?lang=en"))
    header = [th.get_text(" ", strip=True) for th in page.select("#tabla-resumen thead th")]
    assert header[1:3] == ["Supports sent", "In the Lista Nominal"] or header[1] == "Supports sent"
    assert "Percentage reached" in page.select_one("#tabla-umbral").get_text()  # type: ignore[union-attr]
    page = _soup(opl_client.get(base + "/lugar?lang=en"))
    assert "Not located" in page.get_text()
    rows = _csv(opl_client.get(base + "/dia?formato=csv&lang=en"))
    assert rows[0] == ["Date", "New", "Cumulative sent", "Cumulative in the Lista Nominal"]


def test_an_opl_with_several_processes_gets_a_selector_of_its_own_only(app: Starlette, opl_client: TestClient,
                                                                       campaign: Campaign) -> None:
    with session_scope(app.state.engine) as db:
        make_process(db, opl=db.get(Opl, campaign.opl_id), name="Diputación 2027")
    page = _soup(opl_client.get(f"/opl/procesos/{campaign.process_id}/reportes"))
    form = page.select_one('form[action="/opl/reportes"]')
    assert form is not None
    options = {option.get_text(strip=True): option.has_attr("selected") for option in form.select("option")}
    assert options == {"Gubernatura 2027": True, "Diputación 2027": False}  # not the other OPL's "Otro proceso"


def test_an_opl_without_processes_is_told_so(client: TestClient, sign_in_with_role: Any, app: Starlette) -> None:
    with session_scope(app.state.engine) as db:
        opl = make_opl(db)
        opl_id = opl.id
    sign_in_with_role(client, Role.OPL_ADMIN, opl_id=opl_id)
    page = _soup(client.get("/opl/reportes"))
    assert "todavía no tiene procesos" in page.get_text()



def test_every_report_leads_to_what_changed_for_its_process(opl_client: TestClient, campaign: Campaign) -> None:
    page = _soup(opl_client.get(f"/opl/procesos/{campaign.process_id}/reportes/lugar"))
    link = page.select_one("nav.report-nav a[href^='/reportes/cambios']")
    assert link is not None and f"proceso={campaign.process_id}" in _attr(link, "href")
    assert opl_client.get(_attr(link, "href")).status_code == 200


def test_the_aspirants_progress_leads_to_their_own_changes(aspirant_client: TestClient, campaign: Campaign) -> None:
    link = _soup(aspirant_client.get("/aspirante/avance")).select_one("nav.report-nav a[href*='cambios']")
    assert link is not None and _attr(link, "href").startswith("/aspirante/avance/cambios")
    assert aspirant_client.get(_attr(link, "href")).status_code == 200
