"""The one parser of what forms send: each field read with a named limit, as the type the handler needs, or as
"nothing sent" — never an exception. Text is cut at its limit after the characters core.text refuses (NUL,
bidi, zero-width: a code pasted from a mail app may carry one) are dropped, so they neither reach the database
nor cost anyone a wrong try; strict formats (codes, identifiers) are judged afterwards by the domain."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response

from core.text import as_row_id, without_unsafe_characters
from registry.intake.credential import TypedIdentifiers
from registry.intake.limits import IDENTIFIER_CHARS, ROW_ID_DIGITS
from web.errors import render_error
from web.state import services

CODE_CHARS: Final = 40  # an activation code as typed, separators included
SIGNED_TOKEN_CHARS: Final = 4000  # a signed step state or draft (ids and a reading, never photos)
CARRY_REF_CHARS: Final = 400  # the signed reference under a code just shown
IDEMPOTENCY_KEY_CHARS: Final = 80
IDEMPOTENCY_KEY: Final = re.compile(r"[A-Za-z0-9_-]{20,80}")
SIGNATURE_DATA_URL: Final = re.compile(r"data:image/png;base64,(?P<data>[A-Za-z0-9+/=]+)")


async def read_form(request: Request) -> FormData | Response:
    """The form, or the 413 page when a part is over the upload limit."""
    try:
        return await request.form(max_part_size=services(request).settings.upload_max_bytes)
    except MultiPartException:
        return render_error(request, 413)


def text(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    return without_unsafe_characters(value)[:limit] if isinstance(value, str) else ""


def as_typed(form: FormData, name: str, limit: int) -> str:
    """`text` without dropping any character: for the forms whose domain names the characters it refuses (an
    invisible character in a name gets its own message instead of vanishing unseen)."""
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def token(form: FormData, name: str) -> str | None:
    """A signed token the server itself put in the page; anything else (a file, an overlong text) is none."""
    value = form.get(name)
    return value if isinstance(value, str) and len(value) <= SIGNED_TOKEN_CHARS else None


def row_id(form: FormData, name: str) -> int | None:
    """A row number (`aspirante=3`): ASCII digits only ("²" passes str.isdigit()), at most ROW_ID_DIGITS."""
    return as_row_id(text(form, name, ROW_ID_DIGITS + 1))


def checked(form: FormData, name: str) -> bool:
    return form.get(name) == "si"


def typed_identifiers(form: FormData) -> TypedIdentifiers:
    return TypedIdentifiers(cic=text(form, "cic", IDENTIFIER_CHARS),
                            clave_elector=text(form, "clave_elector", IDENTIFIER_CHARS),
                            ocr=text(form, "ocr", IDENTIFIER_CHARS))


async def upload_bytes(request: Request, form: FormData, name: str) -> bytes | None:
    """The uploaded file's bytes (None when no file was chosen); at most one byte over the limit is read, so
    an oversized upload is refused by the intake rules without holding all of it in memory."""
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(services(request).settings.upload_max_bytes + 1)
    return data or None


def signature_data_url(form: FormData) -> bytes | None:
    """Where signature.js leaves the PNG when the browser cannot fill a file input."""
    value = form.get("firma_datos")
    match = SIGNATURE_DATA_URL.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    try:
        return base64.b64decode(match.group("data"), validate=True)
    except binascii.Error:
        return None
