"""Report pages: the Resumen por candidatura with the threshold (the OPL's, every aspirant of a process; the
aspirant's own progress), and both audiences' reports by place (state → district → municipality → sección) and
by day. Every table downloads as CSV and XLSX (`?formato=csv|xlsx`).

Figures come only from `registry.reports.figures`, read in one read-only transaction per page so a page's tables
agree with each other. Query parameters are typed by people: anything that is not what a page expects is ignored
with a message, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.permissions import Permission
from core.text import as_row_id
from registry.models import Process
from registry.opl_admin import NotFound
from registry.opl_admin.people import aspirants_of_process
from registry.opl_admin.processes import process_names
from registry.reports.figures import AspirantSummary, DayRow, PlaceRow, Tally, by_day, by_place, process_total, summary
from registry.reports.places import PlaceKey
from registry.states import GeoKind
from registry.team_progress import aspirants_of
from web.downloads import table_download
from web.i18n import gettext as _
from web.report_drill import PLACE_PARAMS, Drill, drill_of, path_names
from web.report_tables import (
    category_chart,
    day_chart,
    day_table,
    dispersion_table,
    level_words,
    place_chart,
    place_name,
    place_table,
    summary_table,
    threshold_table,
    total_of,
    words,
)
from web.routes.opl_common import render
from web.routes.report_changes import changes_url
from web.security import requires
from web.services import call_reader

OPL_VIEW = Permission.OPL_REPORT_VIEW
OWN_VIEW = Permission.ASPIRANT_REPORT_VIEW
FORMATS = ("csv", "xlsx")
T = TypeVar("T")


@dataclass(frozen=True)
class Scope:
    """Whose figures a page shows: one process, and all its aspirants (None) or one."""

    audience: str  # "opl" or "aspirant": which routes the page's links lead to
    process: Process
    processes: tuple[tuple[int, str], ...]  # what the process selector offers (the OPL's)
    aspirants: tuple[tuple[int, str], ...]  # what the aspirant selector offers
    aspirant_id: int | None

    @property
    def process_id(self) -> int:
        return int(self.process.id or 0)

    @property
    def aspirant_name(self) -> str | None:
        return next((name for number, name in self.aspirants if number == self.aspirant_id), None)


# ---------------------------------------------------------------- scope: who may see which process


def _opl_scope(session: Session, opl_ids: frozenset[int], process_id: int, wanted: int | None) -> Scope:
    """The process if it belongs to one of the person's OPLs (else NotFound: a 404, as if it did not exist)."""
    for opl_id in sorted(opl_ids):
        try:
            process, aspirants = aspirants_of_process(session=session, opl_id=opl_id, process_id=process_id)
        except NotFound:
            continue
        processes = tuple(pair for opl in sorted(opl_ids) for pair in process_names(session=session, opl_id=opl))
        choices = tuple((int(a.id or 0), a.full_name) for a in aspirants)
        chosen = wanted if wanted in {number for number, _name in choices} else None
        return Scope("opl", process, processes, choices, chosen)
    raise NotFound


def _own_scope(session: Session, aspirant_ids: frozenset[int], wanted: int | None) -> Scope | None:
    """The signed-in aspirant's record (the one asked for, when the person holds several), or None."""
    views = aspirants_of(session=session, aspirant_ids=aspirant_ids)
    if not views:
        return None
    view = next((v for v in views if v.aspirant.id == wanted), views[0])
    mine = tuple((int(v.aspirant.id or 0), v.aspirant.full_name) for v in views)
    return Scope("aspirant", view.process, (), mine, int(view.aspirant.id or 0))


async def _read(request: Request, figures: Callable[[Session, Scope], T]) -> tuple[Scope, T] | None:
    """The page's scope and its figures, in one read-only transaction. An OPL page of a process outside the
    person's OPLs is a 404; an aspirant account not linked to a candidacy yet gets None."""
    principal, wanted = request.state.principal, as_row_id(request.query_params.get("aspirante"))
    process_id = request.path_params.get("process_id")
    opl_ids = principal.opl_ids(OPL_VIEW)
    aspirant_ids = principal.aspirant_ids(OWN_VIEW)

    def read(*, session: Session) -> tuple[Scope, T] | None:
        scope = (_opl_scope(session, opl_ids, process_id, wanted) if process_id is not None
                 else _own_scope(session, aspirant_ids, wanted))
        return None if scope is None else (scope, figures(session, scope))

    try:
        return await call_reader(request, read)
    except NotFound as missing:
        raise HTTPException(status_code=404) from missing


def _problems(request: Request, scope: Scope) -> list[str]:
    """Messages for query parameters the page could not use (they were ignored)."""
    problems = []
    asked = request.query_params.get("aspirante")
    if scope.audience == "opl" and asked and scope.aspirant_id is None:
        problems.append(_("Ese aspirante no es de este proceso: mostramos a todos los aspirantes."))
    if request.query_params.get("formato", "") not in ("", *FORMATS):
        problems.append(_("Las descargas existen en formato CSV o XLSX: mostramos la página."))
    return problems


# ---------------------------------------------------------------- links


def _route(scope: Scope, page: str) -> str:
    return {"opl": f"opl_reports{page}", "aspirant": f"aspirant_progress{page}"}[scope.audience]


def _url(request: Request, scope: Scope, page: str, **query: object) -> str:
    params = {"process_id": scope.process_id} if scope.audience == "opl" else {}
    path = str(request.app.url_path_for(_route(scope, page), **params))
    # The aspirant chosen stays on the way (an aspirant's own pages need it only when they hold several records).
    chosen = scope.aspirant_id and (scope.audience == "opl" or len(scope.aspirants) > 1)
    kept = {"aspirante": scope.aspirant_id} if chosen else {}
    pairs = [(k, v) for k, v in {**kept, **query}.items() if v is not None]
    return f"{path}?{urlencode(pairs)}" if pairs else path


def _downloads(request: Request, **extra: object) -> dict[str, str]:
    """This page's own address with `formato` set, for each format."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("formato", "lang", "hecho")]
    kept += [(k, str(v)) for k, v in extra.items()]
    return {fmt: f"{request.url.path}?{urlencode([*kept, ('formato', fmt)])}" for fmt in FORMATS}


def _context(request: Request, scope: Scope, current: str, **more: Any) -> dict[str, Any]:
    return {"scope": scope, "words": words(), "current": current, "errors": _problems(request, scope),
            "nav": {page: _url(request, scope, page) for page in ("", "_place", "_day")}
            | {"_changes": changes_url(request, audience=scope.audience, process_id=scope.process_id,
                                       aspirant_id=scope.aspirant_id)}, **more}


def _stem(scope: Scope, report: str) -> str:
    """A download's name: the process and the report, never a person's name."""
    who = f"_aspirante_{scope.aspirant_id}" if scope.aspirant_id else ""
    return f"proceso_{scope.process_id}{who}_{report}"


def _format(request: Request) -> str | None:
    fmt = request.query_params.get("formato")
    return fmt if fmt in FORMATS else None


def _no_candidacy(request: Request) -> Response:
    return render(request, "reports/no_candidacy.html", {})


# ---------------------------------------------------------------- summary and threshold


def _summary_figures(session: Session, scope: Scope) -> tuple[list[AspirantSummary], Tally | None]:
    rows = summary(session=session, process_id=scope.process_id, aspirant_id=scope.aspirant_id
                   if scope.audience == "aspirant" else None)
    total = process_total(session=session, process_id=scope.process_id) if scope.audience == "opl" else None
    return rows, total


async def _summary(request: Request) -> Response:
    read = await _read(request, _summary_figures)
    if read is None:
        return _no_candidacy(request)
    scope, (rows, total) = read
    fmt, table = _format(request), request.query_params.get("tabla", "resumen")
    if fmt is not None:
        return _summary_download(request, scope, rows, total, fmt, table)
    own = rows[0] if scope.audience == "aspirant" and rows else None
    chart_tally = own.tally if own else total
    context = _context(request, scope, _route(scope, ""), rows=rows, total=total, own=own,
                       place_links={row.aspirant_id: _url(request, scope, "_place", aspirante=row.aspirant_id)
                                    for row in rows},
                       chart=category_chart(chart_tally) if chart_tally is not None else None,
                       files={name: _downloads(request, tabla=name)
                                  for name in ("resumen", "umbral", "dispersion")})
    if own is not None and own.threshold.dispersion is not None:
        context["units"] = own.threshold.dispersion.units  # the figures list the units still missing first
        context["unit_word"] = level_words()[own.threshold.dispersion.unit]
    template = "reports/summary.html" if scope.audience == "opl" else "reports/progress.html"
    return render(request, template, context)


def _summary_download(request: Request, scope: Scope, rows: list[AspirantSummary], total: Tally | None, fmt: str,
                      table: str) -> Response:
    if table == "umbral":
        header, lines = threshold_table(rows)
    elif table == "dispersion" and scope.audience == "aspirant" and rows and rows[0].threshold.dispersion:
        dispersion = rows[0].threshold.dispersion
        header, lines = dispersion_table(dispersion, level_words()[dispersion.unit])
    else:
        table = "resumen"
        header, lines = summary_table(rows, total)
    return table_download(request, filename_stem=_stem(scope, table), fmt=fmt, header=header, rows=lines)


@requires(OPL_VIEW)
async def opl_summary(request: Request) -> Response:
    return await _summary(request)


@requires(OWN_VIEW)
async def own_summary(request: Request) -> Response:
    return await _summary(request)


@requires(OPL_VIEW)
async def opl_index(request: Request) -> Response:
    """The process selector's target: the chosen process's report, else the first of the person's OPLs."""
    opl_ids = request.state.principal.opl_ids(OPL_VIEW)

    def names(*, session: Session) -> list[tuple[int, str]]:
        return [pair for opl in sorted(opl_ids) for pair in process_names(session=session, opl_id=opl)]

    processes = await call_reader(request, names)
    if not processes:
        return render(request, "reports/no_process.html", {})
    asked = as_row_id(request.query_params.get("proceso"))
    chosen = asked if asked in {number for number, _name in processes} else processes[0][0]
    return RedirectResponse(request.app.url_path_for("opl_reports", process_id=chosen), status_code=303)


# ---------------------------------------------------------------- by place


@dataclass(frozen=True)
class PlaceFigures:
    rows: list[PlaceRow]
    path_names: list[str]  # the name of each place the drill-down passed through


def _place_figures(drill: Drill) -> Callable[[Session, Scope], PlaceFigures]:
    def figures(session: Session, scope: Scope) -> PlaceFigures:
        rows = by_place(session=session, process_id=scope.process_id, aspirant_id=scope.aspirant_id,
                        level=drill.level, within=drill.within)
        return PlaceFigures(rows, path_names(session, drill))

    return figures


def _crumbs(request: Request, scope: Scope, drill: Drill, names: list[str]) -> list[tuple[str, str]]:
    """The way back up: every state, then each place passed, each a link to its own list."""
    crumbs = [(_("Todos los estados"), _url(request, scope, "_place"))]
    for depth, name in enumerate(names):
        query = dict(zip(PLACE_PARAMS, drill.path[: depth + 1], strict=False))
        crumbs.append((name, _url(request, scope, "_place", **query)))
    return crumbs


def _child_link(request: Request, scope: Scope, drill: Drill, key: PlaceKey) -> str | None:
    """The link one level down from a row, if there is a level below and the row is a place."""
    if drill.level is GeoKind.SECCION or key == PlaceKey(0, 0, 0, 0):
        return None
    numbers = (key.state_code, key.district, key.municipality)[: len(drill.path) + 1]
    return _url(request, scope, "_place", **dict(zip(PLACE_PARAMS, numbers, strict=False)))


async def _place(request: Request) -> Response:
    drill = drill_of(request.query_params)
    read = await _read(request, _place_figures(drill))
    if read is None:
        return _no_candidacy(request)
    scope, figures = read
    rows, fmt = figures.rows, _format(request)
    if fmt is not None:
        header, lines = place_table(rows, drill.level)
        return table_download(request, filename_stem=_stem(scope, f"lugar_{drill.level.value}"), fmt=fmt,
                              header=header, rows=lines)
    context = _context(request, scope, _route(scope, "_place"), rows=rows, drill=drill,
                       total=total_of(row.tally for row in rows),
                       crumbs=_crumbs(request, scope, drill, figures.path_names),
                       links=[_child_link(request, scope, drill, row.key) for row in rows],
                       names=[place_name(row, drill.level) for row in rows],
                       crumb_query=list(zip(PLACE_PARAMS, drill.path, strict=False)),
                       chart=place_chart(rows, drill.level), files=_downloads(request))
    if drill.ignored:
        context["errors"].append(_("Un lugar pedido no es válido: mostramos el último nivel que sí lo es."))
    return render(request, "reports/place.html", context)


@requires(OPL_VIEW)
async def opl_place(request: Request) -> Response:
    return await _place(request)


@requires(OWN_VIEW)
async def own_place(request: Request) -> Response:
    return await _place(request)


# ---------------------------------------------------------------- by day


def _day_figures(session: Session, scope: Scope) -> list[DayRow]:
    return by_day(session=session, process_id=scope.process_id, aspirant_id=scope.aspirant_id)


async def _day(request: Request) -> Response:
    read = await _read(request, _day_figures)
    if read is None:
        return _no_candidacy(request)
    scope, rows = read
    fmt = _format(request)
    if fmt is not None:
        header, lines = day_table(rows)
        return table_download(request, filename_stem=_stem(scope, "por_dia"), fmt=fmt, header=header, rows=lines)
    context = _context(request, scope, _route(scope, "_day"), rows=rows, chart=day_chart(rows),
                       files=_downloads(request))
    return render(request, "reports/day.html", context)


@requires(OPL_VIEW)
async def opl_day(request: Request) -> Response:
    return await _day(request)


@requires(OWN_VIEW)
async def own_day(request: Request) -> Response:
    return await _day(request)


PROCESS = "/opl/procesos/{process_id:row_id}/reportes"
routes = [
    Route("/opl/reportes", opl_index, name="opl_reports_index"),
    Route(PROCESS, opl_summary, name="opl_reports"),
    Route(PROCESS + "/lugar", opl_place, name="opl_reports_place"),
    Route(PROCESS + "/dia", opl_day, name="opl_reports_day"),
    Route("/aspirante/avance", own_summary, name="aspirant_progress"),
    Route("/aspirante/avance/lugar", own_place, name="aspirant_progress_place"),
    Route("/aspirante/avance/dia", own_day, name="aspirant_progress_day"),
]
