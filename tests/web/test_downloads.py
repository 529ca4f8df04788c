"""web.downloads.table_download: the response's headers, its file name (accents kept for browsers that read
RFC 6266's filename*, an ASCII fallback for the rest), unknown formats, and a body that starts going out before
the rows have all been read."""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import pytest
from python_calamine import CalamineWorkbook
from starlette.exceptions import HTTPException
from starlette.requests import Request

from web.downloads import ascii_name, clean_stem, content_disposition, table_download

HEADER = ["nombre", "n"]


def make_request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""})


class CountingRows:
    def __init__(self, total: int = 100_000) -> None:
        self.total = total
        self.read = 0

    def __iter__(self) -> Iterator[list[object]]:
        for number in range(self.total):
            self.read = number + 1
            yield [f"fila {number}", number]


def run(response: Any, on_body: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        return {}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            on_body(message)
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "method": "GET", "path": "/",
             "headers": []}
    # In a thread of its own: a browser test earlier in this process leaves the main thread's event loop marked
    # running, where anyio.run would refuse to start.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(anyio.run, response, scope, receive, send).result()
    return messages


def test_csv_response_starts_before_the_rows_are_all_read() -> None:
    rows = CountingRows()
    read_at_first_body: list[int] = []
    response = table_download(make_request(), filename_stem="avance", fmt="csv", header=HEADER, rows=rows)
    messages = run(response, lambda message: read_at_first_body.append(rows.read))
    assert read_at_first_body[0] < rows.total // 10
    assert rows.read == rows.total
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    assert body.decode("utf-8-sig").count("\r\n") == rows.total + 1


def test_headers_of_a_csv_download() -> None:
    response = table_download(make_request(), filename_stem="avance", fmt="csv", header=HEADER, rows=[])
    assert response.media_type == "text/csv; charset=utf-8"
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="avance.csv"'
    assert response.headers["cache-control"] == "no-store"


def test_xlsx_download_is_a_workbook() -> None:
    response = table_download(make_request(), filename_stem="Sección", fmt="xlsx", header=HEADER,
                              rows=[["=1+1", 3]])
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    messages = run(response, lambda message: None)
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(body)).get_sheet_by_index(0).to_python()
    assert sheet == [HEADER, ["'=1+1", 3]]


@pytest.mark.parametrize("fmt", ["pdf", "", "CSV", "csv/../x", "xls"])
def test_unknown_format_is_not_found_and_reads_no_row(fmt: str) -> None:
    rows = CountingRows(10)
    with pytest.raises(HTTPException) as raised:
        table_download(make_request(), filename_stem="avance", fmt=fmt, header=HEADER, rows=rows)
    assert raised.value.status_code == 404
    assert rows.read == 0


def test_accented_names_keep_their_accents_with_an_ascii_fallback() -> None:
    header = content_disposition("María_López_Hernández.csv")
    assert header == ("attachment; filename=\"Maria_Lopez_Hernandez.csv\"; "
                      "filename*=UTF-8''Mar%C3%ADa_L%C3%B3pez_Hern%C3%A1ndez.csv")
    assert ascii_name("Ñuñoa Peña.xlsx") == "Nunoa_Pena.xlsx"


@pytest.mark.parametrize(("stem", "cleaned"), [
    ('a/b\\c:d*e?f"g<h>i|j', "abcdefghij"),
    ("../../etc/passwd", "etcpasswd"),
    ("línea\r\nnueva", "línea_nueva"),
    ("con; coma, y %20", "con_coma_y_20"),
    ("", "reporte"),
    ("///", "reporte"),
])
def test_stems_lose_characters_unsafe_in_file_names_or_headers(stem: str, cleaned: str) -> None:
    assert clean_stem(stem) == cleaned


def test_a_hostile_stem_cannot_break_the_header() -> None:
    response = table_download(make_request(), filename_stem='x"; filename="evil.exe\r\nSet-Cookie: a=b',
                              fmt="csv", header=HEADER, rows=[])
    disposition = response.headers["content-disposition"]
    assert "\r" not in disposition and "\n" not in disposition and "evil.exe\"" not in disposition
    assert disposition.startswith('attachment; filename="x_filename_evil.exe_Set-Cookie_a_b.csv"; ')
