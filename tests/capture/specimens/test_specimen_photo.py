"""Simulated phone photos: sizes, determinism, the conditions' effects, and a readable nominal shot."""

from __future__ import annotations

import io
import random
from dataclasses import replace

import numpy as np
import pytest
import zxingcpp
from PIL import Image, ImageOps

from capture.specimens.card import render_back
from capture.specimens.corpus import Sample
from capture.specimens.identity import random_identity
from capture.specimens.photo import (
    DISTANT_FRAME,
    PHONE_FRAME,
    TINY_FRAMES,
    Condition,
    Shot,
    photograph,
    plan_shot,
    render_shot,
)


def open_jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return ImageOps.exif_transpose(image)


def small_qr_texts(image: Image.Image) -> list[str]:
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    return [code.text for code in codes if len(code.bytes) == 59]


def test_every_condition_gives_a_jpeg_of_the_claimed_size(small_corpus: list[Sample]) -> None:
    assert [sample.condition for sample in small_corpus] == list(Condition)
    for sample in small_corpus:
        size = open_jpeg(sample.data).size
        if sample.condition is Condition.MIXED:  # may or may not include stepping back
            assert size in (PHONE_FRAME, DISTANT_FRAME)
        elif sample.condition is Condition.TINY:
            assert size in TINY_FRAMES, sample.name
        else:
            assert size == (DISTANT_FRAME if sample.condition is Condition.DISTANCE else PHONE_FRAME), sample.name


def test_nominal_photo_is_12_megapixels_and_its_small_qr_reads_exactly(small_corpus: list[Sample]) -> None:
    nominal = next(sample for sample in small_corpus if sample.condition is Condition.NOMINAL)
    image = open_jpeg(nominal.data)
    assert image.size == (4000, 3000)
    assert small_qr_texts(image) == [nominal.identity.qr_url]


def test_nominal_photo_of_model_e_reads_too() -> None:
    rng = random.Random(99)
    identity = random_identity(rng, "E")
    image = open_jpeg(photograph(render_back(identity, px_per_mm=16), rng, Condition.NOMINAL))
    assert small_qr_texts(image) == [identity.qr_url]


def test_same_seed_gives_identical_bytes_and_another_seed_different() -> None:
    card = render_back(random_identity(random.Random(1), "H"))
    first = photograph(card, random.Random(42), Condition.DISTANCE)
    assert photograph(card, random.Random(42), Condition.DISTANCE) == first
    assert photograph(card, random.Random(43), Condition.DISTANCE) != first


@pytest.mark.parametrize("orientation", [6, 8])
def test_sideways_storage_with_exif_tag_shows_upright(orientation: int) -> None:
    card = render_back(random_identity(random.Random(2), "E"), px_per_mm=8)
    shot = replace(plan_shot(random.Random(2), Condition.DISTANCE), exif_orientation=orientation)
    data = render_shot(card, shot, np.random.default_rng(2))
    assert Image.open(io.BytesIO(data)).size == (DISTANT_FRAME[1], DISTANT_FRAME[0])
    assert open_jpeg(data).size == DISTANT_FRAME


def plans(condition: Condition, count: int = 30) -> list[Shot]:
    rng = random.Random(condition.value)
    return [plan_shot(rng, condition) for _ in range(count)]


def test_each_condition_changes_what_it_names() -> None:
    assert all(shot.jpeg_quality <= 35 for shot in plans(Condition.JPEG))
    assert all(shot.gain <= 0.3 and shot.noise >= 5 for shot in plans(Condition.LOW_LIGHT))
    assert all(shot.blur_mm >= 0.1 for shot in plans(Condition.BLUR))
    assert all(shot.motion_mm >= 0.4 for shot in plans(Condition.MOTION_BLUR))
    assert all(abs(shot.pose.pitch) >= 12 for shot in plans(Condition.PERSPECTIVE))
    assert all(shot.glare is not None for shot in plans(Condition.GLARE))
    assert all(shot.frame == DISTANT_FRAME and shot.width_fraction <= 0.4 for shot in plans(Condition.DISTANCE))
    assert {round(shot.pose.roll / 90) % 4 for shot in plans(Condition.ROTATION, 60)} == {0, 1, 2, 3}


def test_the_hard_conditions_go_beyond_the_ordinary_ones() -> None:
    assert all(shot.blur_mm >= 0.4 for shot in plans(Condition.HEAVY_BLUR))
    assert all(shot.motion_mm >= 2.2 for shot in plans(Condition.STRONG_SHAKE))
    for shot in plans(Condition.VERY_FAR):
        assert shot.frame == PHONE_FRAME and shot.width_fraction <= 0.18
        # Blur of at least about half a photo pixel: a sensor does not alias like a point sampler.
        assert shot.blur_mm >= 0.45 * 85.6 / (shot.frame[0] * shot.width_fraction) - 1e-9
    assert all(shot.frame in TINY_FRAMES and max(shot.frame) <= 1000 for shot in plans(Condition.TINY))


def test_mixed_photos_never_take_the_hard_conditions() -> None:
    # MIXED draws from the ordinary conditions at half strength; its photos stay the ones tuned on before.
    for shot in plans(Condition.MIXED, 80):
        assert shot.frame in (PHONE_FRAME, DISTANT_FRAME) and shot.width_fraction >= 0.35
        assert shot.blur_mm <= 0.275 and shot.motion_mm <= 1.3


@pytest.mark.parametrize("condition", [Condition.HEAVY_BLUR, Condition.STRONG_SHAKE, Condition.VERY_FAR,
                                       Condition.TINY])
def test_the_hard_conditions_are_deterministic(condition: Condition) -> None:
    card = render_back(random_identity(random.Random(3), "H"), px_per_mm=8)
    first = photograph(card, random.Random(7), condition)
    assert photograph(card, random.Random(7), condition) == first
    assert photograph(card, random.Random(8), condition) != first


def test_nominal_plans_stay_gentle() -> None:
    for shot in plans(Condition.NOMINAL):
        assert shot.glare is None and shot.motion_mm == 0 and shot.jpeg_quality >= 85
        assert abs(shot.pose.roll) <= 4 and shot.frame == PHONE_FRAME
