"""The field batch's shapes: what a phone sends (parsed defensively, one item at a time, so a malformed item
gets its own answer and never spoils its neighbours) and what it gets back per item.

A batch is `{"items": [item, ...]}`; each item:
`{"key": "<client idempotency key>", "captured_at": "<ISO 8601 device time>", "aspirant_id": 3,
  "signature_method": "drawn" | "accessible_alternative",
  "identifiers": {"cic": "", "clave_elector": "", "ocr": ""},          (optional: the typed fallback)
  "images": {"back": ..., "front": ..., "live_photo": ..., "signature": ...}}`
where each image is base64 (optionally a `data:` URL) in a JSON body, or the name of a file part in a
multipart body (whose `lote` field holds the JSON)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.text import MAX_ROW_ID, as_row_id
from registry.intake.credential import TypedIdentifiers
from registry.intake.limits import CLIENT_KEY_CHARS, DEVICE_TIME_CHARS, IDENTIFIER_CHARS, JSON_INTEGER_DIGITS
from registry.intake.refusals import Refused
from registry.states import ImageKind, SignatureMethod
from registry.supports import SupportReceipt

MAX_BATCH_ITEMS = 10  # more wait for the next round: each item may carry four photos
_CLIENT_KEY = re.compile(rf"[A-Za-z0-9_-]{{8,{CLIENT_KEY_CHARS}}}")
_IMAGE_FIELDS = (("back", ImageKind.BACK), ("front", ImageKind.FRONT), ("live_photo", ImageKind.LIVE_PHOTO),
                 ("signature", ImageKind.SIGNATURE))


class BatchMalformed(ValueError):
    """The batch as a whole cannot be read (not JSON, no item list)."""


class _OversizedNumber:
    """Stands in for a JSON integer too long to be any of our numbers; every field refuses it, so only the item
    that carries it gets an answer (`malformed`), where int() would have raised for the whole body."""

    def __repr__(self) -> str:
        return "<oversized number>"


_OVERSIZED = _OversizedNumber()


def _bounded_int(digits: str) -> int | _OversizedNumber:
    return _OVERSIZED if len(digits.lstrip("-")) > JSON_INTEGER_DIGITS else int(digits)


def load_batch_json(text: str | bytes) -> object:
    """The batch body (or multipart `lote` field) as JSON; raises BatchMalformed when it is not JSON."""
    try:
        return json.loads(text, parse_int=_bounded_int)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise BatchMalformed("json") from error


@dataclass(frozen=True)
class CaptureImages:
    back: bytes | None = None
    front: bytes | None = None
    live_photo: bytes | None = None
    signature: bytes | None = None

    def present(self) -> list[tuple[ImageKind, bytes]]:
        return [(kind, data) for name, kind in _IMAGE_FIELDS if (data := getattr(self, name))]

    def missing(self, *, signature_needed: bool) -> list[str]:
        needed = [name for name, _kind in _IMAGE_FIELDS if signature_needed or name != "signature"]
        return [name for name in needed if not getattr(self, name)]


@dataclass(frozen=True)
class FieldCapture:
    index: int
    client_key: str
    aspirant_id: int
    captured_at: datetime
    images: CaptureImages
    typed: TypedIdentifiers | None = None
    signature_method: SignatureMethod = SignatureMethod.DRAWN


@dataclass(frozen=True)
class MalformedItem:
    index: int
    client_key: str | None
    field: str  # which part could not be read, e.g. `captured_at`, `images.front`
    code: str = "malformed"
    retryable: bool = False


@dataclass(frozen=True)
class ItemAnswer:
    """`received` (with folio; `replay` when the key was already stored), `refused` (code + detail: will not be
    stored as sent) or `error` (`retryable`: send it again later; otherwise the item itself is malformed)."""

    index: int
    key: str | None
    status: str
    folio: str | None = None
    replay: bool = False
    manual_capture: bool | None = None
    counts_for_aspirant: bool | None = None
    code: str = ""
    detail: str = ""
    retryable: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    refusal: Refused | None = None  # a refused item's typed refusal, for its message

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"index": self.index, "key": self.key, "status": self.status}
        if self.status == "received":
            body |= {"folio": self.folio, "replay": self.replay, "manual_capture": self.manual_capture,
                     "counts_for_aspirant": self.counts_for_aspirant}
        else:
            body |= {"code": self.code, "detail": self.detail, "retryable": self.retryable}
        return body | self.extra


def received(index: int, key: str, receipt: SupportReceipt, *, replay: bool, manual: bool | None) -> ItemAnswer:
    return ItemAnswer(index=index, key=key, status="received", folio=receipt.folio, replay=replay,
                      manual_capture=manual, counts_for_aspirant=receipt.counts_for_aspirant)


def refused(index: int, key: str, refusal: Refused) -> ItemAnswer:
    return ItemAnswer(index=index, key=key, status="refused", code=refusal.code.value, detail=refusal.detail,
                      refusal=refusal)


def error(index: int, key: str | None, code: str, detail: str, *, retryable: bool) -> ItemAnswer:
    return ItemAnswer(index=index, key=key, status="error", code=code, detail=detail, retryable=retryable)


# ---------------------------------------------------------------- parsing


def parse_batch(payload: object, files: Mapping[str, bytes] | None = None) -> list[FieldCapture | MalformedItem]:
    """Every item parsed on its own. `files` is None for a JSON body (images inline, base64) and the uploaded
    parts by name for a multipart body. Raises BatchMalformed only when there is no item list at all."""
    items = payload.get("items") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise BatchMalformed("items")
    parsed = [_parse_item(index, item, files) for index, item in enumerate(items[:MAX_BATCH_ITEMS])]
    deferred = [MalformedItem(index, _key_of(item), "items", code="batch_limit", retryable=True)
                for index, item in enumerate(items) if index >= MAX_BATCH_ITEMS]
    return [*parsed, *deferred]


def _key_of(item: object) -> str | None:
    key = item.get("key") if isinstance(item, dict) else None
    return key if isinstance(key, str) and _CLIENT_KEY.fullmatch(key) else None


class _Bad(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def _parse_item(index: int, item: object, files: Mapping[str, bytes] | None) -> FieldCapture | MalformedItem:
    key = _key_of(item)
    if not isinstance(item, dict) or key is None:
        return MalformedItem(index, None, "key")
    try:
        return FieldCapture(index=index, client_key=key, aspirant_id=_aspirant_id(item.get("aspirant_id")),
                            captured_at=_device_time(item.get("captured_at")),
                            images=_images(item.get("images"), files), typed=_typed(item.get("identifiers")),
                            signature_method=_signature_method(item.get("signature_method")))
    except _Bad as bad:
        return MalformedItem(index, key, bad.field)


def _aspirant_id(value: object) -> int:
    number = as_row_id(value) if isinstance(value, str) else value
    if isinstance(number, int) and not isinstance(number, bool) and 0 < number <= MAX_ROW_ID:
        return number
    raise _Bad("aspirant_id")


def _device_time(value: object) -> datetime:
    if not isinstance(value, str) or len(value) > DEVICE_TIME_CHARS:
        raise _Bad("captured_at")
    try:
        moment = datetime.fromisoformat(value)
        # A phone that sends no offset is taken as UTC; submit_support flags what falls far outside the window.
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError) as bad:  # year 1 at +05:00 has no UTC
        raise _Bad("captured_at") from bad


def _signature_method(value: object) -> SignatureMethod:
    if value is None or value == "":
        return SignatureMethod.DRAWN
    try:
        return SignatureMethod(str(value))
    except ValueError as bad:
        raise _Bad("signature_method") from bad


def _typed(value: object) -> TypedIdentifiers | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Bad("identifiers")
    texts = {name: value.get(name, "") or "" for name in ("cic", "clave_elector", "ocr")}
    if not all(isinstance(text, str) and len(text) <= IDENTIFIER_CHARS for text in texts.values()):
        raise _Bad("identifiers")
    return TypedIdentifiers(**texts)


def _images(value: object, files: Mapping[str, bytes] | None) -> CaptureImages:
    if not isinstance(value, dict):
        raise _Bad("images")
    return CaptureImages(**{name: _image(value.get(name), files, name) for name, _kind in _IMAGE_FIELDS})


def _image(reference: object, files: Mapping[str, bytes] | None, name: str) -> bytes | None:
    if reference is None or reference == "":
        return None
    if not isinstance(reference, str):
        raise _Bad(f"images.{name}")
    if files is not None:
        if reference not in files:
            raise _Bad(f"images.{name}")
        return files[reference]
    encoded = reference.split(",", 1)[1] if reference.startswith("data:") else reference
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as bad:
        raise _Bad(f"images.{name}") from bad
