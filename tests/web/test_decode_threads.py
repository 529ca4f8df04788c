"""Decodes run on the decoder's own threads, nicer than the rest of the process, so the event loop and the other
requests keep the CPU first while credentials are read (issue 14's "the loop never blocked")."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import TypeVar

import anyio
import pytest

from capture.result import Reason
from registry.intake.reading import ImageLimits
from tests.factories.photos import plain_photo
from web.decoding import DECODE_NICENESS, Decoder, lower_thread_priority
from web.logs import current_request_id, request_id_bound

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities are Linux's")

T = TypeVar("T")
LIMITS = ImageLimits(max_bytes=15_000_000, max_pixels=50_000_000)


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def expected_nicer(base: int) -> int:
    return min(19, base + DECODE_NICENESS)


def run_async(work: Callable[[], Awaitable[T]]) -> T:
    # A thread of its own: after a browser test the main thread's loop is marked running and anyio.run refuses it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, work).result()


def test_lowering_a_thread_priority_changes_that_thread_alone() -> None:
    before = niceness()
    seen: list[int] = []
    thread = threading.Thread(target=lambda: (lower_thread_priority(), seen.append(niceness())))
    thread.start()
    thread.join()
    assert seen == [expected_nicer(before)]
    assert niceness() == before  # the caller, and so the event loop's thread, keeps its priority


def test_a_back_photo_is_read_on_a_nicer_decode_thread_and_the_caller_keeps_its_priority() -> None:
    decoder = Decoder(workers=2, budget_ms=60_000, limits=LIMITS)
    before = niceness()

    async def scenario() -> tuple[int, tuple[str, int], Reason | None]:
        caller = niceness()
        decoded = await decoder.read_back(b"not a photo at all", today=date(2026, 11, 30))
        where = await decoder._run(lambda: (threading.current_thread().name, niceness()))
        return caller, where, decoded.reading.reason

    caller, (name, inside), reason = run_async(scenario)
    assert reason == Reason.NOT_AN_IMAGE  # the decode ran and answered
    assert name.startswith("decode")
    assert inside == expected_nicer(before)
    assert caller == before == niceness()  # anyio's threads and this one were not touched


def test_decode_threads_read_a_real_photo_and_every_one_of_them_is_nicer() -> None:
    decoder = Decoder(workers=2, budget_ms=60_000, limits=LIMITS)
    before = niceness()

    async def scenario() -> list[bool]:
        async with anyio.create_task_group() as tasks:
            results: list[bool] = []

            async def read() -> None:
                decoded = await decoder.read_back(plain_photo(), today=date(2026, 11, 30))
                results.append(decoded.image is not None)

            for _ in range(2):
                tasks.start_soon(read)
        return results

    assert run_async(scenario) == [True, True]
    decode_threads = [t for t in threading.enumerate() if t.name.startswith("decode") and t.native_id is not None]
    assert decode_threads
    assert {os.getpriority(os.PRIO_PROCESS, t.native_id or 0) for t in decode_threads} == {expected_nicer(before)}


def test_a_decode_thread_carries_the_request_id_of_the_request_it_decodes_for() -> None:
    """Log lines written while a photo is decoded say which request they belong to, as anyio's threads do."""
    decoder = Decoder(workers=1, budget_ms=60_000, limits=LIMITS)

    async def scenario() -> str:
        with request_id_bound("peticion-de-prueba"):
            return await decoder._run(current_request_id)

    assert run_async(scenario) == "peticion-de-prueba"
