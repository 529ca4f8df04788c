"""Any report table as a download: CSV or XLSX, streamed while the rows are read, never cached on the way (the
figures move and some tables carry personal data)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import StreamingResponse

from registry.reports.tabular import Cell, csv_chunks, xlsx_chunks

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

_UNSAFE_IN_NAMES = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|;,%]+')
_NOT_PLAIN_ASCII = re.compile(r"[^A-Za-z0-9._-]+")
_STEM_MAX = 120


def table_download(request: Request, *, filename_stem: str, fmt: str, header: Sequence[str],
                   rows: Iterable[Sequence[Cell]]) -> StreamingResponse:
    """`fmt` "csv" or "xlsx" (anything else: 404, and `rows` is never read). `filename_stem` may carry accents:
    browsers that read RFC 6266's filename* keep them, the others get an ASCII transliteration."""
    if fmt not in MEDIA_TYPES:
        raise HTTPException(status_code=404)
    body: Iterator[bytes] = csv_chunks(header, rows) if fmt == "csv" else xlsx_chunks(filename_stem, header, rows)
    return StreamingResponse(body, media_type=MEDIA_TYPES[fmt], headers={
        "Content-Disposition": content_disposition(f"{clean_stem(filename_stem)}.{fmt}"),
        "Cache-Control": "no-store",
    })


def clean_stem(stem: str) -> str:
    """Characters no file system or header accepts removed, spaces as underscores, never empty."""
    spaced = re.sub(r"\s+", "_", unicodedata.normalize("NFC", stem))
    cleaned = _UNSAFE_IN_NAMES.sub("", spaced).strip("._")[:_STEM_MAX]
    return cleaned or "reporte"


def ascii_name(filename: str) -> str:
    """"María_López.csv" -> "Maria_Lopez.csv": accents dropped, any other character outside plain ASCII an
    underscore."""
    decomposed = unicodedata.normalize("NFKD", filename)
    without_marks = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_PLAIN_ASCII.sub("_", without_marks).strip("_") or "reporte"


def content_disposition(filename: str) -> str:
    fallback = ascii_name(filename)
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
