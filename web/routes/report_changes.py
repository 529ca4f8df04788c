"""«¿Qué cambió?»: for a report cell (a category, a situación, a place) and two moments, the cell's count at each,
the net change, and the supports that moved in or out with the events that moved them.

OPL staff (OPL_REPORT_VIEW) ask about any process of their OPL at `/reportes/cambios`; the aspirant
(ASPIRANT_REPORT_VIEW) about their own supports only at `/aspirante/avance/cambios` (the service forces it).
Report pages link here with `changes_url`. Query parameters are typed by people: what the page cannot use is
said and ignored, never a 500. Folios only: no names, no claves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth.permissions import Permission
from auth.roles import Role
from core.text import as_row_id
from registry.opl_admin import NotFound
from registry.reports.categories import Category
from registry.reports.changes import MAX_LISTED, ActorKind, Audience, Move, Standing
from registry.reports.changes_view import ChangesQuery, ChangesView, Moment, Problem, aspirant_changes, opl_changes
from registry.reports.places import PlaceKey
from registry.states import SituacionRegistral
from web.i18n import gettext as _
from web.report_tables import category_words, otra_words
from web.routes.aspirant_supports import situacion_words, status_words
from web.routes.opl_common import render
from web.security import requires
from web.services import call_reader, now
from web.templating import local_time, wall_clock

OPL_VIEW = Permission.OPL_REPORT_VIEW
OWN_VIEW = Permission.ASPIRANT_REPORT_VIEW
PLACE_PARAMS = ("estado", "distrito", "municipio", "seccion")
MAX_PLACE_NUMBER = 99_999  # INE's keys: 32 states, 300 districts, 2,500 municipalities, 72,000 secciones
MOMENT_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S")
MAX_MOMENT_CHARS = 32


def changes_url(request: Request, *, audience: str, process_id: int | None = None, aspirant_id: int | None = None,
                category: Category | None = None, situacion: SituacionRegistral | None = None,
                place: PlaceKey | None = None, since: date | datetime | None = None,
                until: date | datetime | None = None) -> str:
    """The «¿Qué cambió?» page of one report cell, for report pages to link to. `audience` "opl" or "aspirant"
    (the aspirant's page ignores process and aspirant: it is always their own). Moments are local to the
    process's time zone: a datetime (naive) or a date (`since` its first minute, `until` the whole day)."""
    query: list[tuple[str, object]] = []
    if audience == "opl":
        query += [("proceso", process_id), ("aspirante", aspirant_id)]
    query += [("categoria", category.value if category else None),
              ("situacion", situacion.value if situacion else None)]
    if place is not None:
        query += [(name, getattr(place, column)) for name, column in zip(
            PLACE_PARAMS, ("state_code", "district", "municipality", "seccion"), strict=True)
            if getattr(place, column) or (name == "estado" and not place.located)]
    query += [("desde", _moment_text(since)), ("hasta", _moment_text(until))]
    path = str(request.app.url_path_for("opl_report_changes" if audience == "opl" else "aspirant_report_changes"))
    kept = [(name, value) for name, value in query if value is not None]
    return f"{path}?{urlencode(kept)}" if kept else path


def _moment_text(moment: date | datetime | None) -> str | None:
    if isinstance(moment, datetime):
        return wall_clock(moment, "%Y-%m-%dT%H:%M")  # its wall clock, as typed
    return moment.isoformat() if isinstance(moment, date) else None


# ---------------------------------------------------------------- reading the question


def _enum(value: str | None, kind: Any) -> Any:
    try:
        return kind(value) if value else None
    except ValueError:
        return None


def _moment(text: str | None) -> Moment:
    """A local moment as typed: a date and time, or a bare date (the day's start; as an end, the whole day)."""
    text = (text or "").strip()
    if not text:
        return Moment()
    if len(text) <= MAX_MOMENT_CHARS:
        for fmt in MOMENT_FORMATS:
            try:
                return Moment(datetime.strptime(text, fmt))
            except ValueError:
                continue
        try:
            return Moment(datetime.combine(date.fromisoformat(text), datetime.min.time()), date_only=True)
        except ValueError:
            pass
    return Moment(invalid=True)


def _place(request: Request, errors: list[str]) -> PlaceKey | None:
    """The cell's place: the numbers given (estado=0 alone: the supports not located yet); None: anywhere."""
    given = {name: request.query_params.get(name, "").strip() for name in PLACE_PARAMS}
    if not any(given.values()):
        return None
    numbers = []
    for name in PLACE_PARAMS:
        value = given[name]
        if value and not (value.isascii() and value.isdigit() and len(value) <= 6 and int(value) <= MAX_PLACE_NUMBER):
            errors.append(_("Un lugar se indica con números de INE (estado, distrito, municipio, sección): "
                            "mostramos todos los lugares."))
            return None
        numbers.append(int(value) if value else 0)
    return PlaceKey(*numbers)


def _query(request: Request, errors: list[str]) -> ChangesQuery:
    params = request.query_params
    category, situacion = _enum(params.get("categoria"), Category), _enum(params.get("situacion"), SituacionRegistral)
    if params.get("categoria") and category is None:
        errors.append(_("Esa categoría no existe: mostramos todas."))
    if params.get("situacion") and situacion is None:
        errors.append(_("Esa situación registral no existe: mostramos todas."))
    return ChangesQuery(category=category, situacion=situacion, place=_place(request, errors),
                        since=_moment(params.get("desde")), until=_moment(params.get("hasta")),
                        aspirant_id=as_row_id(params.get("aspirante")))


# ---------------------------------------------------------------- pages


@requires(OPL_VIEW)
async def opl_report_changes(request: Request) -> Response:
    errors: list[str] = []
    query = _query(request, errors)
    raw_process = request.query_params.get("proceso")
    process_id = as_row_id(raw_process)
    if raw_process and process_id is None:
        raise HTTPException(status_code=404)
    try:
        view = await call_reader(request, opl_changes, opl_ids=request.state.principal.opl_ids(OPL_VIEW),
                                 process_id=process_id, query=query, now=now(request))
    except NotFound as missing:  # another OPL's process, or none: as if it did not exist
        raise HTTPException(status_code=404) from missing
    return _page(request, view, errors)


@requires(OWN_VIEW)
async def aspirant_report_changes(request: Request) -> Response:
    errors: list[str] = []
    query = _query(request, errors)
    view = await call_reader(request, aspirant_changes,
                             aspirant_ids=request.state.principal.aspirant_ids(OWN_VIEW), query=query,
                             now=now(request))
    if view is None:
        return render(request, "reports/no_candidacy.html", {})
    return _page(request, view, errors)


def _page(request: Request, view: ChangesView, errors: list[str]) -> Response:
    params = request.query_params
    place_fields = [(name, params[name]) for name in PLACE_PARAMS if params.get(name, "").strip()]
    return render(request, "reports/changes.html", {
        "view": view, "changes": view.changes, "errors": errors + [problem_message(p) for p in view.problems],
        "category_words": category_words(), "otra_words": otra_words(), "situacion_words": situacion_words(),
        "status_words": status_words(), "max_listed": MAX_LISTED, "place_fields": place_fields,
        "place_text": place_text(view.changes.cell.place), "standing_text": standing_text,
        "move_text": move_text, "actor_text": actor_text, "at_text": _clock(view.process.timezone),
        "action": request.url.path, "is_opl": view.audience is Audience.OPL})


# ---------------------------------------------------------------- words


def _clock(timezone: str) -> Callable[[datetime], str]:
    """An event's time as the page's moments are typed: in the process's time zone, to the second."""
    return lambda moment: local_time(moment, "%d/%m/%Y %H:%M:%S", zone=timezone)


def problem_message(problem: Problem) -> str:
    return {
        Problem.SINCE_INVALID: _("La fecha de inicio no es válida (AAAA-MM-DD HH:MM, entre 2000 y 2100): usamos "
                                 "las últimas 24 horas."),
        Problem.UNTIL_INVALID: _("La fecha de fin no es válida (AAAA-MM-DD HH:MM, entre 2000 y 2100): usamos el "
                                 "momento actual."),
        Problem.SINCE_NOT_BEFORE_UNTIL: _("El inicio debe ser anterior al fin: mostramos las últimas 24 horas."),
        Problem.ASPIRANT_NOT_IN_PROCESS: _("Ese aspirante no es de este proceso: mostramos a todos los aspirantes."),
    }[problem]


def place_text(place: PlaceKey | None) -> str:
    if place is None:
        return _("Todos los lugares")
    if not place.located:
        return _("Sin ubicar (sin verificar o no encontrados en la Lista Nominal)")
    parts = [_("Estado %(n)s") % {"n": place.state_code}]
    for number, label in ((place.district, _("distrito %(n)s")), (place.municipality, _("municipio %(n)s")),
                          (place.seccion, _("sección %(n)s"))):
        if number:
            parts.append(label % {"n": number})
    return ", ".join(parts)


def standing_text(standing: Standing | None) -> str:
    """Where a support stood: its column (and situación in «otra situación»), and its place for the OPL."""
    if standing is None:
        return _("Todavía no se recibía")
    words = category_words()[standing.category]
    if standing.category is Category.OTRA_SITUACION_REGISTRAL:
        words += f": {otra_words().get(standing.situacion, standing.situacion.value)}"
    if standing.place is not None:
        words += f" · {place_text(standing.place)}"
    return words


def move_text(move: Move) -> str:
    statuses = status_words()
    to = statuses.get(move.to_status, move.to_status.value)
    if move.from_status is None:
        return _("Recibido: %(to)s") % {"to": to}
    return _("%(before)s → %(to)s") % {"before": statuses.get(move.from_status, move.from_status.value), "to": to}


def actor_text(move: Move) -> str:
    actor = move.actor
    if actor.kind is ActorKind.INTAKE:
        return _("Sistema (recepción del apoyo)")
    if actor.kind is ActorKind.COMPULSA:
        return _("Sistema (compulsa con la Lista Nominal)")
    if actor.kind is ActorKind.SYSTEM:
        return _("Sistema")
    if actor.kind is ActorKind.WITHHELD:
        return _("Enviado a revisión de la mesa de control")
    role = role_words().get(actor.role, _("Cuenta")) if actor.role is not None else _("Cuenta")
    return f"{role}: {actor.name}" if actor.name else role


def role_words() -> dict[Role, str]:
    return {Role.OPL_ADMIN: _("Administración del OPL"), Role.REVIEWER: _("Mesa de control"),
            Role.ASPIRANT: _("Aspirante"), Role.AUXILIARY: _("Auxiliar"), Role.CITIZEN: _("Persona ciudadana"),
            Role.SYSTEM_ADMIN: _("Administración del sistema")}


routes = [
    Route("/reportes/cambios", opl_report_changes, name="opl_report_changes"),
    Route("/aspirante/avance/cambios", aspirant_report_changes, name="aspirant_report_changes"),
]
