"""The shared OCR engine is used by several decode threads at once: inference takes no lock (so two decodes use
two cores) and concurrent calls give exactly what the same calls give one after the other."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from PIL import Image, ImageDraw

from capture.mrz_lines import LineBox
from capture.mrz_ocr import LineReader, default_reader


class CountingLock:
    """A real re-entrant lock that counts how often it is taken."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.taken = 0

    def __enter__(self) -> bool:
        self.taken += 1
        return self._lock.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._lock.__exit__(*exc)


def mrz_like(width: int, height: int, text: str) -> Image.Image:
    image = Image.new("L", (width, height), 235)
    draw = ImageDraw.Draw(image)
    for row in range(3):
        draw.text((width // 10, height // 3 + row * height // 10), text, fill=20, font_size=height // 14)
    return image


@pytest.fixture(scope="module")
def reader() -> LineReader:
    shared = default_reader()
    shared.load()
    return shared


@pytest.fixture()
def counted(reader: LineReader) -> Iterator[CountingLock]:
    original = reader._lock
    counting = CountingLock()
    reader._lock = counting  # type: ignore[assignment]
    try:
        yield counting
    finally:
        reader._lock = original


def test_a_loaded_reader_runs_inference_without_taking_its_lock(reader: LineReader, counted: CountingLock) -> None:
    page = mrz_like(512, 384, "IDMEX1234567897<<1234567890123")
    strip = page.crop((40, 120, 500, 170))
    reader.detect(page)
    reader.recognize([strip, strip])
    reader.upside_down([strip])
    assert counted.taken == 0


def _signature(boxes: list[LineBox]) -> list[tuple[float, ...]]:
    return [(b.cx, b.cy, b.ux, b.uy, b.length, b.thickness) for b in boxes]


def test_concurrent_detections_of_different_sizes_equal_the_same_ones_in_turn(reader: LineReader) -> None:
    # RapidOCR's own detector keeps each call's input size on the shared engine: a race there would detect one
    # image at the other's size.
    images = [mrz_like(640, 480, "IDMEX<<<<1234567897<<<<<<<<<<"), mrz_like(384, 288, "8001014H3112315MEX<<<<<<<<<<1")]
    alone = [_signature(reader.detect(image)) for image in images]
    assert all(alone)
    with ThreadPoolExecutor(max_workers=2) as pool:
        together = list(pool.map(lambda i: _signature(reader.detect(images[i % 2])), range(16)))
    assert together == [alone[i % 2] for i in range(16)]


def test_strips_recognised_one_by_one_read_as_one_batch_would() -> None:
    # `recognize` runs each strip alone (cheaper) but padded to the batch's common width: the same probabilities.
    import numpy as np

    from capture.mrz_ocr import _bgr

    reader = default_reader()
    strips = [mrz_like(600, 48, "IDMEX1836577177<<0747116375842").crop((0, 10, 600, 40)),
              mrz_like(300, 48, "8007050M2212315MEX<02<<12345<4").crop((0, 10, 300, 40))]
    recognizer = reader._get().text_rec
    images = [_bgr(strip) for strip in strips]
    _, height, width = recognizer.rec_image_shape
    ratio = max(width / height, *(image.shape[1] / image.shape[0] for image in images))
    batch = np.concatenate([recognizer.resize_norm_img(image, ratio)[None] for image in images]).astype(np.float32)
    together = recognizer.session(batch)[0]

    lines = reader.recognize(strips)

    assert [line.log_probs is not None for line in lines] == [True, True]
    for line, probabilities in zip(lines, together, strict=True):
        assert line.log_probs is not None
        assert np.allclose(np.exp(line.log_probs), probabilities, atol=1e-5)
