"""A decode's time budget is the CPU its thread spends: time spent waiting for a core (a busy server, decode threads
running nicer than requests) never cuts a readable photo short."""

from __future__ import annotations

import time
from datetime import date
from typing import Any, cast

from PIL import Image

from capture import budget
from capture.mrz_lines import LineBox
from capture.mrz_ocr import LineReader, default_reader
from capture.pipeline import read_back
from capture.result import Reason
from tests.factories.photos import flat_back, flat_identity

WAIT_S = 2.0  # longer than the whole budget below; spent asleep, so no CPU


class WaitingReader:
    """The shared recogniser, reached after a wait for the CPU the way a starved decode thread waits for it."""

    def __init__(self) -> None:
        self.waited = False

    def detect(self, image: Image.Image) -> list[LineBox]:
        if not self.waited:
            self.waited = True
            time.sleep(WAIT_S)
        return default_reader().detect(image)

    def __getattr__(self, name: str) -> Any:
        return getattr(default_reader(), name)


def test_the_budget_clock_counts_this_threads_cpu_and_not_time_asleep() -> None:
    before = budget.now()
    time.sleep(0.2)
    asleep = budget.now() - before
    sum(i * i for i in range(200_000))
    assert asleep < 0.2 and budget.now() > before


def test_a_decode_that_waits_longer_than_its_budget_for_the_cpu_still_reads_the_photo() -> None:
    default_reader().load()
    data, identity = flat_back(3), flat_identity(3, "H")
    today = date(identity.expiry_year, 6, 1)
    reader = WaitingReader()
    reading = read_back(data, today=today, budget_ms=1500, reader=cast(LineReader, reader))
    assert reader.waited
    assert Reason.TIME_BUDGET_EXHAUSTED not in reading.reasons
    assert reading.ok and reading.fields is not None and reading.fields.cic == identity.cic
