"""The report pages' words and tables: column labels in the page's language (the same ones head the HTML tables and
the downloads), and each report as a header plus rows for `web.downloads.table_download`. Numbers come from
`registry.reports.figures` as they are; nothing here counts supports."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from registry.reports.categories import CATEGORIES, OTRA_SITUACION, Category
from registry.reports.figures import AspirantSummary, DayRow, Dispersion, PlaceRow, Tally, UnitProgress
from registry.reports.places import PlaceKey
from registry.reports.tabular import Cell
from registry.states import GeoKind, SituacionRegistral
from web.charts import DailyWords, DayPoint, bar_chart, daily_chart
from web.i18n import gettext as _
from web.templating import local_date

NOWHERE = PlaceKey(0, 0, 0, 0)  # the row of supports not located yet


def category_words() -> dict[Category, str]:
    """Seed 000's columns ("Resumen por candidatura"), in INE's words."""
    return {
        Category.EN_LISTA_NOMINAL: _("En Lista Nominal"),
        Category.DUPLICADOS_MISMO_ASPIRANTE: _("Duplicados (mismo aspirante)"),
        Category.OTRA_SITUACION_REGISTRAL: _("En otra situación registral"),
        Category.CON_INCONSISTENCIA: _("Con inconsistencia"),
        Category.EN_PROCESAMIENTO: _("En procesamiento"),
        Category.EN_MESA_DE_CONTROL: _("En mesa de control"),
    }


def otra_words() -> dict[SituacionRegistral, str]:
    """The breakdown of "en otra situación registral", one label per situación."""
    return {
        SituacionRegistral.DUPLICADO_OTRO_ASPIRANTE: _("Duplicado con otro aspirante"),
        SituacionRegistral.EN_PADRON_NO_EN_LISTA: _("En padrón, no en Lista Nominal"),
        SituacionRegistral.BAJA: _("Baja del padrón"),
        SituacionRegistral.DATOS_NO_ENCONTRADOS: _("Datos no encontrados"),
        SituacionRegistral.FUERA_DE_AMBITO: _("Fuera del ámbito geográfico"),
        SituacionRegistral.FUERA_REGIMEN_EXCEPCION: _("Fuera del régimen de excepción"),
    }


def level_words() -> dict[GeoKind, str]:
    return {GeoKind.STATE: _("Estado"), GeoKind.DISTRICT: _("Distrito"), GeoKind.MUNICIPALITY: _("Municipio"),
            GeoKind.SECCION: _("Sección")}


def level_plural_words() -> dict[GeoKind, str]:
    return {GeoKind.STATE: _("estados"), GeoKind.DISTRICT: _("distritos"), GeoKind.MUNICIPALITY: _("municipios"),
            GeoKind.SECCION: _("secciones")}


@dataclass(frozen=True)
class Words:
    """What the templates print for the figures' keys."""

    categories: dict[Category, str]
    otra: dict[SituacionRegistral, str]
    levels: dict[GeoKind, str]
    levels_plural: dict[GeoKind, str]
    sent: str
    nowhere: str


def words() -> Words:
    return Words(categories=category_words(), otra=otra_words(), levels=level_words(),
                 levels_plural=level_plural_words(), sent=_("Apoyos enviados"), nowhere=nowhere_words())


def nowhere_words() -> str:
    return _("Sin ubicar (sin verificar o no encontrados en la Lista Nominal)")


def place_name(row: PlaceRow, level: GeoKind) -> str:
    """A place's name from the catalogue (the figures number the ones it lacks); the row of supports not located
    yet says why they are there."""
    if row.key == NOWHERE:
        return nowhere_words()
    return row.name or row.key.label(level)


def total_of(tallies: Iterable[Tally]) -> Tally:
    """The sum of table rows (a place table's total line): the figures' own tallies added column by column."""
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    return total


# ---------------------------------------------------------------- tables for the downloads


def tally_header() -> list[str]:
    """Seed 000's columns, with "en otra situación registral" followed by its breakdown."""
    cats, otra = category_words(), otra_words()
    other = cats[Category.OTRA_SITUACION_REGISTRAL]
    return [_("Apoyos enviados"), cats[Category.EN_LISTA_NOMINAL], cats[Category.DUPLICADOS_MISMO_ASPIRANTE], other,
            *(f"{other}: {otra[s]}" for s in OTRA_SITUACION), cats[Category.CON_INCONSISTENCIA],
            cats[Category.EN_PROCESAMIENTO], cats[Category.EN_MESA_DE_CONTROL]]


def tally_cells(tally: Tally) -> list[Cell]:
    return [tally.enviados, tally.en_lista_nominal, tally.duplicados_mismo_aspirante, tally.otra_situacion_registral,
            *(tally.otra.get(s, 0) for s in OTRA_SITUACION), tally.con_inconsistencia, tally.en_procesamiento,
            tally.en_mesa_de_control]


def summary_table(rows: Sequence[AspirantSummary], total: Tally | None) -> tuple[list[str], Iterator[list[Cell]]]:
    """Resumen por candidatura: one row per aspirant, then the process's total (the OPL's view)."""
    def lines() -> Iterator[list[Cell]]:
        for row in rows:
            yield [row.aspirante, *tally_cells(row.tally)]
        if total is not None:
            yield [_("Total"), *tally_cells(total)]

    return [_("Aspirante"), *tally_header()], lines()


def threshold_table(rows: Sequence[AspirantSummary]) -> tuple[list[str], Iterator[list[Cell]]]:
    header = [_("Aspirante"), _("Requeridos"), _("Contados"), _("Porcentaje alcanzado"), _("Unidades cumplidas"),
              _("Unidades necesarias"), _("Unidades en total"), _("Cumple el umbral")]

    def lines() -> Iterator[list[Cell]]:
        for row in rows:
            t, d = row.threshold, row.threshold.dispersion
            yield [row.aspirante, t.requeridos, t.contados, t.porcentaje, d.units_met if d else None,
                   d.units_needed if d else None, d.units_total if d else None, yes_no(t.met)]

    return header, lines()


def dispersion_table(dispersion: Dispersion, level: str) -> tuple[list[str], Iterator[list[Cell]]]:
    header = [level, _("Clave"), _("Lista Nominal"), _("Requeridos"), _("Contados"), _("Faltan"), _("Cumplida")]
    rows: Iterator[list[Cell]] = ([unit.name, unit_code(unit), unit.roll, unit.required, unit.counted,
                                   unit.missing, yes_no(unit.met)] for unit in dispersion.units)
    return header, rows


def place_table(rows: Sequence[PlaceRow], level: GeoKind) -> tuple[list[str], Iterator[list[Cell]]]:
    header = [level_words()[level], _("Estado"), _("Distrito"), _("Municipio"), _("Sección"), *tally_header()]

    def lines() -> Iterator[list[Cell]]:
        for row in rows:
            key = row.key
            yield [place_name(row, level), key.state_code or None, key.district or None, key.municipality or None,
                   key.seccion or None, *tally_cells(row.tally)]
        yield [_("Total"), None, None, None, None, *tally_cells(total_of(row.tally for row in rows))]

    return header, lines()


def day_table(rows: Sequence[DayRow]) -> tuple[list[str], Iterator[list[Cell]]]:
    header = [_("Fecha"), _("Nuevos"), _("Acumulado enviados"), _("Acumulado en Lista Nominal")]
    return header, ([row.day, row.tally.enviados, row.cumulative_enviados, row.cumulative_en_lista_nominal]
                    for row in rows)


# ---------------------------------------------------------------- small helpers


def yes_no(value: bool) -> str:
    return _("Sí") if value else _("No")


def unit_code(unit: UnitProgress) -> str:
    """A unit's INE keys, most specific last: "26-5" (a district), "26-5-30-1001" (a sección)."""
    key = unit.key
    return "-".join(str(n) for n in (key.state_code, key.district, key.municipality, key.seccion) if n)


# ---------------------------------------------------------------- charts beside the tables

PLACES_CHARTED = 20  # a chart of 2,000 secciones helps nobody; the table beside it lists them all


def category_chart(tally: Tally) -> Markup:
    cats = category_words()
    bars = [(cats[category], tally.counts.get(category, 0)) for category in CATEGORIES]
    listed = "; ".join(f"{label}: {value:,}" for label, value in bars)
    description = _("Apoyos enviados: %(sent)s.") % {"sent": f"{tally.enviados:,}"} + " " + listed
    return bar_chart(chart_id="grafica-categorias", title=_("Apoyos por categoría"), description=description,
                     bars=bars)


def place_chart(rows: Sequence[PlaceRow], level: GeoKind) -> Markup:
    ranked = sorted(rows, key=lambda row: -row.tally.enviados)[:PLACES_CHARTED]
    bars = [(place_name(row, level), row.tally.enviados) for row in ranked]
    listed = "; ".join(f"{label}: {value:,}" for label, value in bars)
    description = _("Apoyos enviados por lugar, de mayor a menor (hasta %(count)s lugares; la tabla los tiene "
                    "todos).") % {"count": PLACES_CHARTED} + " " + listed
    return bar_chart(chart_id="grafica-lugares", title=_("Apoyos enviados por lugar"), description=description,
                     bars=bars)


def day_chart(rows: Sequence[DayRow]) -> Markup:
    days = [DayPoint(label=local_date(row.day), new=row.tally.enviados, cumulative=row.cumulative_enviados,
                     cumulative_counted=row.cumulative_en_lista_nominal) for row in rows]
    last = days[-1] if days else DayPoint("", 0, 0, 0)
    description = _("%(days)s días con apoyos. Al último día: %(sent)s enviados en total, %(counted)s en Lista "
                    "Nominal. La tabla da las cifras de cada día.") % {
        "days": len(days), "sent": f"{last.cumulative:,}", "counted": f"{last.cumulative_counted:,}"}
    chart_words = DailyWords(new=_("Nuevos por día (el mayor)"), cumulative=_("Acumulado (total)"),
                             sent=_("Enviados"), counted=_("En Lista Nominal"))
    return daily_chart(chart_id="grafica-dias", title=_("Apoyos por día"), description=description, days=days,
                       words=chart_words)
