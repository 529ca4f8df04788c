"""What the OPL admin's pages share: the admin's OPL for a permission, the chosen process filter, services whose
ids are looked up within that OPL (another OPL's is a 404), rendering, reading a posted form without ever
answering 500, and the bulk files' templates as downloads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response

from auth.permissions import Permission
from core.text import as_row_id
from registry.opl_admin import NotFound
from web.errors import render_error
from web.security import Endpoint, requires
from web.state import services

R = TypeVar("R")


def opl_of(request: Request, permission: Permission) -> int:
    """The admin's OPL (the first, for the rare person who administers several); none: 404."""
    opls = request.state.principal.opl_ids(permission)
    if not opls:
        raise HTTPException(status_code=404)
    return int(min(opls))


def chosen_process(request: Request) -> int | None:
    """The process filter (`?proceso=ID`), None for all; an id of another OPL's process simply lists nothing."""
    return as_row_id(request.query_params.get("proceso"))


async def in_opl(call: Awaitable[R]) -> R:
    """`await in_opl(call_service(request, update_type, opl_id=..., type_id=...))`: a registry/opl_admin call
    whose id is outside the admin's OPL (NotFound) answers 404."""
    try:
        return await call
    except NotFound as missing:
        raise HTTPException(status_code=404) from missing


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    response: Response = services(request).templates.TemplateResponse(request, template, context,
                                                                      status_code=status_code)
    return response


async def posted_form(request: Request, *, max_part_size: int = 1024 * 1024) -> FormData | Response:
    try:
        return await request.form(max_part_size=max_part_size)
    except MultiPartException:
        return render_error(request, 413)


DOWNLOAD_TYPES = {"csv": "text/csv; charset=utf-8",
                  "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def download_endpoint(permission: Permission, make: Callable[[], bytes], filename: str) -> Endpoint:
    """A route handing out the file `make` writes (a bulk file's template), saved under `filename` (an ASCII name
    of ours, its type from the extension), to whoever holds `permission`."""
    media_type = DOWNLOAD_TYPES[filename.rsplit(".", 1)[-1]]

    @requires(permission)
    async def download(request: Request) -> Response:
        return Response(make(), media_type=media_type,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    return download
