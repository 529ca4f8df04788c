import random
from datetime import date

import numpy as np
import pytest
from PIL import Image, ImageFilter

from capture.deblur import (
    MAX_SHAKE_PX,
    MIN_SHAKE_PX,
    Shake,
    estimate_shake,
    remove_defocus,
    remove_shake,
    segment_kernel,
    wiener,
)
from capture.intake import load_image
from capture.pipeline import read_back
from capture.specimens import Condition, make_sample, random_identity, render_back


@pytest.fixture(scope="module")
def sharp() -> Image.Image:
    """A synthetic card back (QRs, MRZ, text) on a grey surround, as a photo's middle shows it."""
    card = render_back(random_identity(random.Random(7), "H"), px_per_mm=9).convert("L")
    photo = Image.new("L", (card.width * 2, card.height * 2), 110)
    photo.paste(card, (card.width // 2, card.height // 2))
    return photo


def shaken(image: Image.Image, length: float, angle: float) -> Image.Image:
    """`image` smeared along a straight segment (circular convolution, as a shake would)."""
    pixels = np.asarray(image, dtype=np.float64)
    kernel = segment_kernel(length, angle)
    padded = np.zeros_like(pixels)
    size = kernel.shape[0]
    padded[:size, :size] = kernel
    padded = np.roll(padded, (-(size // 2), -(size // 2)), axis=(0, 1))
    blurred = np.fft.irfft2(np.fft.rfft2(pixels) * np.fft.rfft2(padded), s=pixels.shape)
    return Image.fromarray(np.clip(blurred, 0, 255).astype(np.uint8))


def error(a: Image.Image, b: Image.Image) -> float:
    return float(np.mean(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def sharpness(image: Image.Image) -> float:
    """Mean absolute difference between neighbouring pixels: edges' steepness."""
    pixels = np.asarray(image, dtype=np.float64)
    return float(np.mean(np.abs(np.diff(pixels, axis=0))) + np.mean(np.abs(np.diff(pixels, axis=1))))


@pytest.mark.parametrize(("length", "angle"), [(16.0, 10.0), (24.0, 120.0)])
def test_shake_length_and_direction_are_estimated(sharp: Image.Image, length: float, angle: float) -> None:
    shake = estimate_shake(shaken(sharp, length, angle))
    assert shake is not None
    assert abs(shake.length - length) <= 2
    assert abs((shake.angle - angle + 90) % 180 - 90) <= 4


@pytest.mark.parametrize(("length", "angle"), [(60.0, 30.0), (75.0, 150.0)])
def test_a_strong_shake_beyond_the_old_reach_is_estimated(sharp: Image.Image, length: float, angle: float) -> None:
    # A 4 mm shake of a card filling most of a 12 MP photo smears about 75 px on the working image.
    shake = estimate_shake(shaken(sharp, length, angle))
    assert shake is not None and shake.length <= MAX_SHAKE_PX
    assert abs(shake.length - length) <= 2
    assert abs((shake.angle - angle + 90) % 180 - 90) <= 4


@pytest.mark.parametrize("sigma", [2.0, 3.0, 4.0, 6.0])
def test_defocus_is_not_called_shaken(sharp: Image.Image, sigma: float) -> None:
    # Its weak cepstral minima must not pass for an echo now that the search reaches further out.
    assert estimate_shake(sharp.filter(ImageFilter.GaussianBlur(sigma))) is None


def test_a_defocused_photo_is_not_called_shaken() -> None:
    # Seed 1's third defocused photo has a cepstral minimum 21 px out that, scored against the
    # wider ring searched for strong shakes, passed for an echo; scored as before it does not.
    sample = make_sample(1, Condition.BLUR, 2, "E")
    assert estimate_shake(load_image(sample.data, long_side=1600).image) is None


def test_sharp_or_slightly_shaken_image_is_not_called_shaken(sharp: Image.Image) -> None:
    assert estimate_shake(sharp) is None
    assert estimate_shake(shaken(sharp, MIN_SHAKE_PX / 2, 30.0)) is None


def test_removing_the_shake_brings_the_image_closer_to_the_sharp_one(sharp: Image.Image) -> None:
    blurred = shaken(sharp, 20.0, 45.0)
    restored = remove_shake(blurred, Shake(length=20.0, angle=45.0, score=10.0))
    assert error(restored, sharp) < 0.8 * error(blurred, sharp)
    assert sharpness(restored) > 1.5 * sharpness(blurred)


def test_removing_defocus_brings_the_image_closer_to_the_sharp_one(sharp: Image.Image) -> None:
    blurred = sharp.filter(ImageFilter.GaussianBlur(4))
    restored = remove_defocus(blurred, 4.0)
    assert error(restored, sharp) < error(blurred, sharp)
    assert sharpness(restored) > 1.5 * sharpness(blurred)


def test_wiener_with_a_point_kernel_keeps_the_image(sharp: Image.Image) -> None:
    point = np.ones((1, 1))
    assert error(wiener(sharp, point, nsr=1e-6), sharp) < 1


def test_shaken_photo_that_reads_nothing_as_taken_is_read_exactly_once_restored() -> None:
    # Seed 3's second motion-blurred photo: a 2 mm shake; without restoration neither its
    # QR nor its MRZ reads. A generous budget keeps the test independent of machine speed.
    sample = make_sample(3, Condition.MOTION_BLUR, 1, "H")
    reading = read_back(sample.data, today=date(sample.identity.expiry_year, 6, 1), budget_ms=30_000)
    assert reading.fields is not None and reading.fields.cic == sample.identity.cic
    assert reading.url is not None and reading.url.text == sample.identity.qr_url


def test_defocused_photo_whose_mrz_does_not_read_as_taken_is_read_once_restored() -> None:
    # Seed 5's third defocused photo: neither its QR nor its MRZ reads as taken.
    sample = make_sample(5, Condition.BLUR, 2, "E")
    reading = read_back(sample.data, today=date(sample.identity.expiry_year, 6, 1), budget_ms=30_000)
    assert reading.fields is not None and reading.fields.cic == sample.identity.cic
