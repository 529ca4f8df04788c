"""Open data (datos abiertos): every process's supports by municipality and by day, per aspirant, for anybody.

Public and anonymous: no session is read and no cookie set under /datos (web.security.COOKIELESS_PREFIXES), so
each answer is the same bytes for everybody and caches may keep it five minutes; an ETag lets them revalidate.
HTML, JSON (`.json` or `?formato=json`) and CSV (`/municipios.csv`, `/dias.csv`, or `?formato=csv&tabla=dias`).
What is published and what is suppressed: registry.reports.open_data."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from registry.reports.open_data import (
    COLUMNS,
    ProcessData,
    as_json,
    day_table,
    municipality_table,
    open_processes,
    process_data,
    shown,
)
from web import i18n
from web.downloads import table_download
from web.i18n import gettext as _
from web.ratelimit import OPEN_DATA_IP, rate_limited
from web.report_tables import category_words, nowhere_words
from web.security import public
from web.services import call_reader
from web.state import services

MAX_AGE = 300
FORMATS = ("html", "json", "csv")
TABLES = ("municipios", "dias")


def _format(request: Request, default: str = "html") -> str:
    chosen = request.query_params.get("formato", default)
    if chosen not in FORMATS:
        raise HTTPException(status_code=404)
    return chosen


def _cacheable(request: Request, response: Response, tag: str, *, per_language: bool) -> Response:
    """Public caching with a validator; a 304 (no body) when the client already holds these bytes."""
    etag = f'"{tag}"'
    headers = {"Cache-Control": f"public, max-age={MAX_AGE}", "ETag": etag}
    if per_language:  # the page's words follow ?lang=, the language cookie or Accept-Language
        headers["Vary"] = "Accept-Language, Cookie"
    if etag in [value.strip() for value in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _tag(*parts: object) -> str:
    """The ETag: a hash of what the answer publishes (so it changes exactly when a published figure does)."""
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@public
@rate_limited(OPEN_DATA_IP)
async def processes_page(request: Request) -> Response:
    fmt = _format(request)
    if fmt == "csv":
        raise HTTPException(status_code=404)
    listing = await call_reader(request, open_processes)
    rows = [{"id": p.process_id, "nombre": p.nombre, "cargo": p.cargo, "inicio": p.starts_at.isoformat(),
             "fin": p.ends_at.isoformat(),
             "datos": request.app.url_path_for("open_data_process", process_id=p.process_id)} for p in listing]
    if fmt == "json":
        return _cacheable(request, JSONResponse({"procesos": rows}), _tag("list-json", rows), per_language=False)
    page = services(request).templates.TemplateResponse(request, "public/datos_procesos.html",
                                                        {"processes": listing})
    return _cacheable(request, page, _tag("list-html", i18n.current_locale(), rows), per_language=True)


async def _data(request: Request) -> ProcessData:
    data = await call_reader(request, process_data, process_id=request.path_params["process_id"],
                             k=services(request).settings.open_data_min_cell)
    if data is None:
        raise HTTPException(status_code=404)
    return data


@public
@rate_limited(OPEN_DATA_IP)
async def process_page(request: Request) -> Response:
    fmt = _format(request)
    if fmt == "csv":
        return await _csv(request, request.query_params.get("tabla", "municipios"))
    data = await _data(request)
    published = as_json(data)
    if fmt == "json":
        return _cacheable(request, JSONResponse(published), _tag("json", published), per_language=False)
    page = services(request).templates.TemplateResponse(request, "public/datos_proceso.html", _context(data))
    return _cacheable(request, page, _tag("html", i18n.current_locale(), published), per_language=True)


@public
@rate_limited(OPEN_DATA_IP)
async def process_json(request: Request) -> Response:
    published = as_json(await _data(request))
    return _cacheable(request, JSONResponse(published), _tag("json", published), per_language=False)


@public
@rate_limited(OPEN_DATA_IP)
async def process_csv(request: Request) -> Response:
    return await _csv(request, request.path_params["table"])


async def _csv(request: Request, table: str) -> Response:
    if table not in TABLES:
        raise HTTPException(status_code=404)
    data = await _data(request)
    header, rows = municipality_table(data) if table == "municipios" else day_table(data)
    response = table_download(request, filename_stem=f"datos_abiertos_proceso_{data.process_id}_{table}",
                              fmt="csv", header=header, rows=rows)
    return _cacheable(request, response, _tag("csv", table, header, rows), per_language=False)


def _context(data: ProcessData) -> dict[str, Any]:
    words = {category.value: label for category, label in category_words().items()}
    columns = [(name, _("Apoyos enviados") if name == "enviados" else words[name]) for name in COLUMNS]
    return {"data": data, "columns": columns, "shown": shown, "nowhere": nowhere_words()}


routes = [
    Route("/datos", processes_page, name="open_data"),
    Route("/datos/procesos/{process_id:row_id}", process_page, name="open_data_process"),
    Route("/datos/procesos/{process_id:row_id}.json", process_json, name="open_data_process_json"),
    Route("/datos/procesos/{process_id:row_id}/{table:str}.csv", process_csv, name="open_data_process_csv"),
]
