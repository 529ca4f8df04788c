"""Credential decoding off the event loop: a bounded thread pool around the pure, synchronous capture pipeline
(zxing-cpp and onnxruntime release the GIL while they work), plus the advice each failure reason gets."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import partial
from typing import TypeVar

import anyio

from capture.pipeline import warm_up
from capture.result import Reason
from registry.intake.reading import BackDecode, DecodeCache, ImageLimits, ReadingCache, decode_back
from web.i18n import gettext as _
from web.metrics import decode_tracked

T = TypeVar("T")

DECODE_RETRY_AFTER_SECONDS = 5  # about two decode budgets: the queue ahead has cleared by then
# Decode threads run this much nicer than the rest of the process (Linux), so the event loop, the other requests
# and the health probe get the CPU first and a decode takes what is left: a photo may wait a little longer, a page
# or a support does not.
DECODE_NICENESS = 10


def lower_thread_priority(step: int = DECODE_NICENESS) -> None:
    """Make the calling thread nicer by `step` (Linux: a thread id given to setpriority names that thread alone).

    Once a thread is nicer it cannot be made less nice again without privileges, so only threads that do nothing
    but decode call this: the decoder's own pool, never anyio's shared worker threads."""
    if not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):  # a sandbox that forbids it: decodes compete with requests as before
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + step))


class DecodeQueueFull(Exception):
    """Every decoder is busy and `queue` photos already wait for one: the request is answered 503 at once."""


class Decoder:
    def __init__(self, *, workers: int, budget_ms: int, limits: ImageLimits, queue: int | None = None,
                 cache: DecodeCache | None = None) -> None:
        # More decodes at once than cores would only make each one slower for everybody.
        self._limiter = anyio.CapacityLimiter(workers)
        # Threads of their own, so their lowered priority never reaches other work (anyio's threads are shared).
        self._threads = ThreadPoolExecutor(workers, thread_name_prefix="decode", initializer=lower_thread_priority)
        self._budget_ms, self._limits = budget_ms, limits
        self._cache = cache if cache is not None else ReadingCache()  # the web app's: shared by its workers
        # Photos decoding or waiting to, in this process; None: no bound on the wait (tools, not the web app).
        self._bound = None if queue is None else workers + queue
        self._admitted = 0

    async def warm_up(self) -> None:
        """Load the OCR models before the first request, so the first citizen's photo gets the whole budget."""
        await self._run(warm_up)

    async def read_back(self, data: bytes, *, today: date) -> BackDecode:
        """The server's reading of a back photo and its copy for the store (registry.intake.reading)."""
        work = partial(decode_back, data, today=today, limits=self._limits, budget_ms=self._budget_ms,
                       cache=self._cache)
        # A long wait would end in the client's timeout and its retry, doubling the work: refuse it now instead.
        # One event loop changes the count and nothing awaits between the check and the increment.
        if self._bound is not None and self._admitted >= self._bound:
            raise DecodeQueueFull()
        self._admitted += 1
        try:
            with decode_tracked(work) as tracked:  # time, in flight and waiting (web/metrics.py)
                return await self._run(tracked)
        finally:
            self._admitted -= 1

    async def _run(self, work: Callable[[], T]) -> T:
        """`work` on a decode thread once one is free. Waiting for a turn can be cancelled; a started decode is
        awaited to its end, as `anyio.to_thread.run_sync` does, so the count of admitted photos stays true."""
        async with self._limiter:
            # In a copy of this context, as anyio's threads run: the request id reaches the decode's log lines.
            future = self._threads.submit(contextvars.copy_context().run, work)
            with anyio.CancelScope(shield=True):
                await asyncio.wrap_future(future)
            return future.result()


def advice(reason: Reason) -> str:
    """What to do about a failed read, in the user's language."""
    messages = {
        Reason.NOT_AN_IMAGE: _("El archivo no es una foto. Toma una foto del reverso de tu credencial."),
        Reason.UNSUPPORTED_FORMAT: _("Usa una foto JPEG, PNG o WebP."),
        Reason.TOO_LARGE: _("La foto pesa demasiado. Tómala con menor resolución."),
        Reason.TOO_MANY_PIXELS: _("La foto tiene demasiados pixeles. Tómala con menor resolución."),
        Reason.IMAGE_TRUNCATED: _("La foto llegó incompleta. Envíala de nuevo."),
        Reason.IMAGE_TOO_SMALL: _("La foto es muy pequeña. Acércate a la credencial."),
        Reason.NO_QR_FOUND: _("No encontramos el código QR. ¿Es el reverso de la credencial? Solo los modelos D a H tienen QR."),
        Reason.QR_UNREADABLE: _("Vemos el código QR pero no se pudo leer: mantén el teléfono quieto, busca más luz y acércate."),
        Reason.ONLY_ENCRYPTED_QR: _("Solo se ven los códigos QR grandes. Asegúrate de que el QR pequeño también salga en la foto."),
        Reason.MRZ_UNREADABLE: _("No pudimos leer las tres líneas de la parte inferior. Que salgan completas y sin reflejos."),
        Reason.MRZ_CHECK_FAILED: _("Las líneas de la parte inferior no pasaron la verificación. Toma la foto de nuevo, sin reflejos."),
        Reason.CREDENTIAL_EXPIRED: _("Esta credencial ya no está vigente. Se necesita una credencial vigente."),
        Reason.TIME_BUDGET_EXHAUSTED: _("No alcanzamos a leer la foto. Toma otra con más luz y el teléfono quieto."),
    }
    return messages.get(reason, _("No pudimos leer la foto. Intenta de nuevo."))
