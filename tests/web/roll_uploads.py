"""What the Lista Nominal page tests share: the upload as the page's form sends it (or as a hand-made multipart
body, to choose the order of its parts), the files it left in the upload folder, and the pages parsed into HTML
trees (assertions are on their structure)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import anyio
from bs4 import BeautifulSoup, Tag
from sqlalchemy.engine import Engine
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.types import Message

from core.clock import to_local, utcnow
from core.db import session_scope
from core.settings import Settings
from registry.models import Job
from registry.states import JobKind
from tests.factories.roll import ROLL_HEADER, citizen

PAGE = "/opl/lista-nominal"


def today() -> date:
    return to_local(utcnow()).date()


def roll_csv(valid: int = 60, bad_lines: tuple[str, ...] = ("NOTACLAVE,1,2,3,X,Y,Z,26,1,1,1,vigente",)) -> bytes:
    lines = [ROLL_HEADER, *(citizen().csv_line() for _ in range(valid)), *bad_lines]
    return ("\n".join(lines) + "\n").encode()


def upload(client: TestClient, content: bytes | None = None, *, cutoff: str | None = None,
           columns: str = "", **extra: Any) -> Any:
    data = {"corte": today().isoformat() if cutoff is None else cutoff, "columnas": columns}
    files = {"archivo": ("lista nominal.csv", roll_csv() if content is None else content, "text/csv")}
    return client.post(PAGE, data=data, files=files, follow_redirects=False, **extra)


def stored(settings: Settings) -> list[Path]:
    folder = settings.roll_upload_dir
    return sorted(folder.iterdir()) if folder.exists() else []


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def text(page: Tag, selector: str) -> str:
    """The text of the one element `selector` picks (the test fails if there is none)."""
    found = page.select_one(selector)
    assert found is not None, selector
    return found.get_text(strip=True)


def import_id(answer: Any) -> int:
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/opl/lista-nominal/importaciones/(\d+)", answer.headers["location"])
    assert found is not None
    return int(found.group(1))


def job_of(engine: Engine, roll_import_id: int) -> Job:
    with session_scope(engine, read_only=True) as session:
        job = session.exec(select(Job).where(Job.roll_import_id == roll_import_id,
                                             Job.kind == JobKind.ROLL_IMPORT)).one()
    return job


def multipart(parts: list[tuple[str, bytes, str | None]], boundary: str = "limite") -> bytes:
    body = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


def asgi_post(app: Starlette, path: str, receive: Any, headers: dict[str, str]) -> int:
    """POST as an ASGI server would, with no Content-Length: the test client always sends one."""
    statuses: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    raw = [(name.encode(), value.encode()) for name, value in {"host": "testserver", **headers}.items()]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "https", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": raw, "client": ("127.0.0.1", 50000), "server": ("testserver", 443)}
    with ThreadPoolExecutor(max_workers=1) as pool:  # anyio.run refuses a thread whose loop is marked running
        pool.submit(anyio.run, app, scope, receive, send).result()
    return statuses[0]
