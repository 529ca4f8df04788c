"""Multipart bodies too large to hold (a Lista Nominal of millions of rows): streamed through python-multipart's
parser, the one file part written straight into a private directory as it arrives, the few text fields kept in
memory with a cap. Nothing is spooled to /tmp and the file is never whole in memory (Starlette's `request.form()`
would do both).

The fields before the file are known when its first bytes arrive: the caller's `before_file` check (the CSRF
token) runs then, so a forged request never gets a byte written. On any failure (bad body, refused check, body
over the route's cap, client gone) the partly written file is deleted before the error goes on."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from core.files import create_private, private_directory

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_FIELD_BYTES = 4_000  # a date, a CSRF token, a --columns spec
MAX_PARTS = 12


class StreamRefused(Exception):
    """The body cannot be used: `status_code` 400 (not a usable multipart form), 403 (the check before the file
    failed) or 413 (a text field or the number of parts over their cap)."""

    def __init__(self, status_code: int) -> None:
        super().__init__(status_code)
        self.status_code = status_code


@dataclass
class StreamedForm:
    fields: dict[str, str]
    path: Path | None = None  # None: no file was sent (or it had no name)
    filename: str = ""  # as the browser named it: shown to the admin, never part of a path
    size: int = 0

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


class _Collector:
    """python-multipart's callbacks: synchronous, so file bytes are queued here and written between chunks."""

    def __init__(self, file_field: str, directory: Path, before_file: Callable[[dict[str, str]], bool]) -> None:
        self.file_field, self.directory, self.before_file = file_field, directory, before_file
        self.form = StreamedForm(fields={})
        self.part = _Part()
        self.parts = 0
        self.header_name = self.header_value = b""
        self.file: BinaryIO | None = None
        self.writing = False  # the current part is the file being kept
        self.pending: list[bytes] = []
        self.ended = False

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self.on_part_begin, "on_part_data": self.on_part_data,
                "on_part_end": self.on_part_end, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished, "on_end": self.on_end}

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise StreamRefused(413)
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]
        if len(self.header_value) > MAX_FIELD_BYTES:
            raise StreamRefused(413)

    def on_header_end(self) -> None:
        self.part.headers.append((self.header_name.lower(), self.header_value))
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        disposition = next((value for name, value in self.part.headers if name == b"content-disposition"), b"")
        _kind, options = parse_options_header(disposition)
        if b"name" not in options:
            raise StreamRefused(400)
        self.part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            self.part.filename = options[b"filename"].decode("utf-8", "replace")
        # Only the first named file of the expected field is kept; any other file part is read and dropped.
        self.writing = (self.part.name == self.file_field and bool(self.part.filename)
                        and self.form.path is None)
        if self.writing:
            if not self.before_file(self.form.fields):
                raise StreamRefused(403)
            self.form.path = self.directory / f"{secrets.token_hex(16)}.upload"
            self.form.filename = _base_name(self.part.filename or "")
            self.file = create_private(self.form.path)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.writing:
            self.pending.append(data[start:end])
        elif self.part.filename is None:
            self.part.data += data[start:end]
            if len(self.part.data) > MAX_FIELD_BYTES:
                raise StreamRefused(413)

    def on_part_end(self) -> None:
        if self.part.filename is None:
            self.form.fields.setdefault(self.part.name, self.part.data.decode("utf-8", "replace"))
        self.writing = False

    def on_end(self) -> None:
        self.ended = True

    async def flush(self) -> None:
        if self.pending and self.file is not None:
            chunk = b"".join(self.pending)
            self.pending.clear()
            await run_in_threadpool(self.file.write, chunk)
            self.form.size += len(chunk)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _base_name(filename: str) -> str:
    """Some browsers send the whole client path; only the last part names the file."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1][:255]


async def stream_form(request: Request, *, file_field: str, directory: Path,
                      before_file: Callable[[dict[str, str]], bool]) -> StreamedForm:
    """Read the request's multipart body: text fields into `fields`, the `file_field` file into a new 0600 file
    with a random name in `directory` (made 0700). The caller owns that file and deletes it if it goes unused."""
    _type, params = parse_options_header(request.headers.get("content-type", ""))
    if _type != b"multipart/form-data" or not params.get(b"boundary"):
        raise StreamRefused(400)
    private_directory(directory)
    collector = _Collector(file_field, directory, before_file)
    try:
        parser = MultipartParser(params[b"boundary"], collector.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
            await collector.flush()
        parser.finalize()
        await collector.flush()
        if not collector.ended:
            raise StreamRefused(400)  # a body cut short: never queue half a file
    except BaseException as error:
        collector.close()
        collector.form.discard()
        if isinstance(error, FormParserError):
            raise StreamRefused(400) from error
        raise
    collector.close()
    return collector.form
