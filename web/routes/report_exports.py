"""The files for INE's roll office (registry/reports/ine_export.py): an aspirant's supports with the citizens'
names and claves, as CSV or XLSX, streamed. Personal data: OPL admins only (not reviewers), only for their own
OPLs' aspirants (another's is a 404), every export audited, nothing cached on the way."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth.permissions import Permission
from core.db import session_scope
from registry.reports.categories import Category
from registry.reports.ine_export import HEADER, IneExport, NotFound, export_rows, exportable_aspirants, open_export
from registry.reports.tabular import Cell
from web.downloads import MEDIA_TYPES, table_download
from web.report_tables import category_words
from web.routes.opl_common import render
from web.security import requires
from web.services import call_reader, call_service, now
from web.state import services

EXPORT = Permission.OPL_REPORT_EXPORT
CATEGORY_PARAM = "categoria"


def _category(request: Request) -> Category | None:
    """`?categoria=en_lista_nominal`; absent or empty: every category; any other value names nothing: 404."""
    value = request.query_params.get(CATEGORY_PARAM, "")
    if not value:
        return None
    try:
        return Category(value)
    except ValueError:
        raise HTTPException(status_code=404) from None


def _rows(engine: Engine, export: IneExport) -> Iterator[tuple[Cell, ...]]:
    """Read while the response is sent, in a read-only transaction of its own that lasts as long as the file."""
    with session_scope(engine, read_only=True) as session:
        yield from export_rows(session=session, aspirant_id=export.aspirant_id, category=export.category)


@requires(EXPORT)
async def ine_export(request: Request) -> Response:
    fmt = request.path_params["fmt"]
    if fmt not in MEDIA_TYPES:
        raise HTTPException(status_code=404)
    opl_ids = request.state.principal.opl_ids(EXPORT)
    try:
        export = await call_service(request, open_export, aspirant_id=request.path_params["aspirant_id"],
                                    opl_ids=opl_ids, category=_category(request), fmt=fmt,
                                    actor_account_id=request.state.principal.account_id, now=now(request))
    except NotFound as missing:
        raise HTTPException(status_code=404) from missing
    return table_download(request, filename_stem=export.filename_stem, fmt=fmt, header=HEADER,
                          rows=_rows(services(request).engine, export))


@requires(EXPORT)
async def ine_exports_page(request: Request) -> Response:
    """Every aspirant of the process, with a CSV and an XLSX link for all their supports and for each category."""
    try:
        process, aspirants = await call_reader(request, exportable_aspirants,
                                               opl_ids=request.state.principal.opl_ids(EXPORT),
                                               process_id=request.path_params["process_id"])
    except NotFound as missing:
        raise HTTPException(status_code=404) from missing
    return render(request, "opl/ine_exports.html", {
        "process": process, "aspirants": aspirants, "categories": list(category_words().items()),
        "formats": list(MEDIA_TYPES), "category_param": CATEGORY_PARAM})


routes = [
    Route("/opl/reportes/{process_id:row_id}/ine", ine_exports_page, name="opl_ine_exports"),
    Route("/opl/reportes/aspirante/{aspirant_id:row_id}/ine.{fmt}", ine_export, name="opl_ine_export"),
]
