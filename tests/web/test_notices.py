"""A `?hecho=` code after a redirect shows its notice; an unknown, empty or missing code shows none."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from web.notices import done_notice


def _request(query: bytes) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": query, "headers": []})


@pytest.mark.parametrize(("query", "shown"), [
    (b"hecho=creado", [{"level": "ok", "text": "Creamos el proceso."}]),
    (b"hecho=otro", []),
    (b"hecho=", []),
    (b"", []),
])
def test_a_done_code_shows_its_notice_and_nothing_else_does(query: bytes, shown: list[dict[str, str]]) -> None:
    assert done_notice(_request(query), {"creado": "Creamos el proceso."}) == shown
