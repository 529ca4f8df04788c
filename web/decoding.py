"""Credential decoding off the event loop: a bounded thread pool around the pure, synchronous capture pipeline
(zxing-cpp and onnxruntime release the GIL while they work), plus the advice each failure reason gets."""

from __future__ import annotations

from datetime import date
from functools import partial

import anyio
import anyio.to_thread

from capture.pipeline import warm_up
from capture.result import Reason
from registry.intake.reading import BackDecode, ImageLimits, ReadingCache, decode_back
from web.i18n import gettext as _


class Decoder:
    def __init__(self, *, workers: int, budget_ms: int, limits: ImageLimits) -> None:
        # More decodes at once than cores would only make each one slower for everybody.
        self._limiter = anyio.CapacityLimiter(workers)
        self._budget_ms, self._limits = budget_ms, limits
        self._cache = ReadingCache()

    async def warm_up(self) -> None:
        """Load the OCR models before the first request, so the first citizen's photo gets the whole budget."""
        await anyio.to_thread.run_sync(warm_up, limiter=self._limiter)

    async def read_back(self, data: bytes, *, today: date) -> BackDecode:
        """The server's reading of a back photo and its copy for the store (registry.intake.reading)."""
        work = partial(decode_back, data, today=today, limits=self._limits, budget_ms=self._budget_ms,
                       cache=self._cache)
        return await anyio.to_thread.run_sync(work, limiter=self._limiter)


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
