"""What the OPL admin's pages share: the admin's OPL for a permission, the chosen process filter, rendering,
and reading a posted form without ever answering 500."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response

from auth.permissions import Permission
from core.text import as_row_id
from web.errors import render_error
from web.state import services


def opl_of(request: Request, permission: Permission) -> int:
    """The admin's OPL (the first, for the rare person who administers several); none: 404."""
    opls = request.state.principal.opl_ids(permission)
    if not opls:
        raise HTTPException(status_code=404)
    return int(min(opls))


def chosen_process(request: Request) -> int | None:
    """The process filter (`?proceso=ID`), None for all; an id of another OPL's process simply lists nothing."""
    return as_row_id(request.query_params.get("proceso"))


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    response: Response = services(request).templates.TemplateResponse(request, template, context,
                                                                      status_code=status_code)
    return response


async def posted_form(request: Request, *, max_part_size: int = 1024 * 1024) -> FormData | Response:
    try:
        return await request.form(max_part_size=max_part_size)
    except MultiPartException:
        return render_error(request, 413)
