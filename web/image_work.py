"""A bound on photo work (decoding a credential, cleaning an upload for the store) per server process and per
account. A request beyond it is answered at once with 429 and Retry-After instead of queueing: a 49-megapixel PNG
takes hundreds of megabytes while it is decoded, so a dozen at once from one account would starve everybody.

Why 16 per server (it was 4): a slot is held for the whole request, upload and database included, and most photos
no longer cost a decode: a plain phone JPEG (what the pages send after shrinking it to 2000 px) is kept as sent
without its metadata after a 1/8-scale check, about 10 ms of CPU and twice its size in memory
(registry/images.py). The memory that 4 guarded is still bounded where it is spent: at most 4 full decodes at once
per process (PNG, WebP, big or odd JPEGs: `registry.images.FULL_DECODES_AT_ONCE`, the others wait their turn) and
the credential decoders' own pool and queue (REGISTRO_DECODE_WORKERS / _QUEUE). What 16 slots can still hold is
their bodies: 16 x 30 MB at the upload limits (60 MB for a field batch), a few MB at what phones send. 50 supports
per second on one machine are about 50 photo requests per second per process; at a few hundred milliseconds each
under load that is 10-15 in progress, which 4 slots turned into 429s. Per account it stays 2: one person's retries
never crowd out the others.

Both counts are per worker process on purpose, also with `registro serve --workers N`. The per-server bound guards
the memory and the decode pool of one process, which are that process's own. The per-account bound is fairness
inside that process: wherever an account's requests land, it holds at most `per_account` of each process's
`per_server` slots, so every process keeps the others' share free whatever N is. Counting an account across
processes (a table or Redis semaphore) would add two shared writes to every photo and leave slots held by a killed
worker until they expired, and protect nothing more: an account's total photo rate across workers is already
bounded by the shared rate limits (`decode`, per account, in REGISTRO_RATE_LIMIT_STORAGE)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from registry.images import CleanImage
from registry.intake.photos import clean_photo
from registry.states import ImageKind
from web.decoding import DECODE_RETRY_AFTER_SECONDS, DecodeQueueFull
from web.i18n import gettext as _
from web.load_shedding import overloaded
from web.state import services

Endpoint = Callable[[Request], Awaitable[Response]]
RETRY_AFTER_SECONDS = 5  # a photo is decoded in about the decode budget (2.5 s by default)


class ImageWorkBusy(Exception):
    """No slot for this request's photo work; `per_account` says whose limit it hit."""

    def __init__(self, *, per_account: bool) -> None:
        super().__init__("image work busy")
        self.per_account = per_account


class ImageGate:
    """Counts of photo work in progress. A lock, not an asyncio primitive: the batch holds its slot while it works
    in a thread, and tests take slots from their own thread."""

    def __init__(self, *, per_server: int, per_account: int) -> None:
        self.per_server, self.per_account = per_server, per_account
        self._lock = threading.Lock()
        self._by_account: Counter[int] = Counter()

    def enter(self, account_id: int) -> None:
        """Take a slot, or raise ImageWorkBusy when the account or the server already has all of its own."""
        with self._lock:
            if self._by_account[account_id] >= self.per_account:
                raise ImageWorkBusy(per_account=True)
            if self._by_account.total() >= self.per_server:
                raise ImageWorkBusy(per_account=False)
            self._by_account[account_id] += 1

    def leave(self, account_id: int) -> None:
        with self._lock:
            self._by_account[account_id] -= 1
            if self._by_account[account_id] <= 0:
                del self._by_account[account_id]


def image_work(endpoint: Endpoint) -> Endpoint:
    """A route whose request decodes or cleans photos holds one slot for all of it; without a free slot it is
    answered 429 at once. Put it under `requires` (a refused or forged request takes no slot)."""

    async def in_slot(request: Request) -> Response:
        gate: ImageGate = services(request).image_gate
        try:
            gate.enter(request.state.principal.account_id)
        except ImageWorkBusy as busy:
            return image_work_busy(request, busy)
        try:
            return await endpoint(request)
        except DecodeQueueFull:  # the whole server is behind on photos: 503, not this client's 429
            return overloaded(request, retry_after=DECODE_RETRY_AFTER_SECONDS)
        finally:
            gate.leave(request.state.principal.account_id)

    in_slot.__name__ = endpoint.__name__
    in_slot.__doc__ = endpoint.__doc__
    return in_slot


def image_work_busy(request: Request, busy: ImageWorkBusy) -> Response:
    """429, Retry-After, and what to do, in the user's language (JSON for the phones' API)."""
    mine = busy.per_account
    message = _("Todavía estamos revisando otra foto que enviaste.") if mine \
        else _("En este momento estamos revisando muchas fotos.")
    wait = _("Espera unos segundos y vuelve a enviarla.")
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", ""):
        body = {"error": "busy", "ok": False, "message": f"{message} {wait}", "advice": f"{message} {wait}",
                "retry_after": RETRY_AFTER_SECONDS}
        return JSONResponse(body, status_code=429, headers=headers)
    context = {"status_code": 429, "message": message, "wait": wait}
    response: Response = services(request).templates.TemplateResponse(request, "errors/too_many.html", context,
                                                                      status_code=429, headers=headers)
    return response


async def clean_upload(request: Request, data: bytes, kind: ImageKind) -> CleanImage:
    """Clean an upload for the store (registry/images.py) in a worker thread, outside any database transaction
    (the request holds an `image_work` slot). Raises Refused (BAD_IMAGE) for bad input."""
    limits = services(request).image_limits
    return await run_in_threadpool(partial(clean_photo, data, kind=kind, limits=limits))
