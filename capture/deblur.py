"""Undoing camera shake and defocus: estimate the blur and invert it (Wiener filter).

A hand that moves while the shutter is open smears every point of the card into a short
straight segment. The segment shows in the image's cepstrum (inverse Fourier transform of
the log spectrum) as a sharp negative peak at the segment's length and direction: the blur's
spectrum is a sinc whose regularly spaced zeros become one "echo" there. Knowing the
segment, a Wiener filter restores most of the sharpness, enough for the MRZ and the QR on
shaken photos that read nothing as they are.

Nothing here decides a value: a restored image is only another input to the same readers,
whose check digits and confidence gates judge it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image

# Shorter blurs are read without help, and every photo shows a weak cepstral minimum a few
# pixels out (its own softness, resampling): only longer, pronounced echoes are shake.
MIN_SHAKE_PX: Final = 11.0
# A strong shake (4 mm) of a card filling most of a 12 MP photo smears 75 px on the 2000 px
# working image; the MRZ reads again once restored, so the echo is looked for that far out.
MAX_SHAKE_PX: Final = 80.0
# The echo's score is measured against the cepstrum within this radius whatever the search
# reach: over a wider ring the spread shrinks and defocused photos' weak minima pass for shake.
SCORE_RING_PX: Final = 49.0
# How far (standard deviations of the cepstrum around it) the echo must stand out; shaken
# synthetic photos score 7-15, sharp ones with long minima (distant cards) 3-5.
MIN_ECHO_SCORE: Final = 6.0
# Noise-to-signal ratio of the Wiener filter: lower restores more and rings more.
WIENER_NSR: Final = 0.01
# The QR's modules are finer than the MRZ's strokes: a crisper (noisier) restoration reads
# the QR on a few more shaken photos (21 of 24 with both, 17 with the first alone).
CRISP_NSR: Final = 0.003
# Defocus that defeats the readers on a 2000 px working image (a 12 MP photo decoded at
# half size) spreads a point over a Gaussian of sigma 5-7 px. Inverting sigma 5 restores
# the MRZ on all 30 defocused synthetic photos of six seeds (sigma 4: 27; 6: 29): a smaller
# sigma under-corrects, a larger one rings.
DEFOCUS_SIGMA_PX: Final = 5.0
# The QR's modules, finer than the MRZ's strokes, read better from a milder inversion.
QR_DEFOCUS_SIGMA_PX: Final = 3.0
# The echo's pixel position overstates the segment by about one pixel (its end points).
_ECHO_TO_LENGTH_PX: Final = 1.0


@dataclass(frozen=True)
class Shake:
    """A straight motion blur: its length (pixels) and direction (degrees, image y down)."""

    length: float
    angle: float
    score: float


def estimate_shake(image: Image.Image) -> Shake | None:
    """The motion blur of the photo's central part (where the card is), or None if the
    photo does not look shaken. About 15 ms on a 1600 px working image."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    height, width = grey.shape
    centre = grey[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4]
    cepstrum = _cepstrum(centre)
    rows, cols = cepstrum.shape
    ys, xs = np.mgrid[-(rows // 2) : rows - rows // 2, -(cols // 2) : cols - cols // 2]
    radius = np.hypot(xs, ys)
    # The cepstrum is symmetric: half the annulus holds every direction once.
    ring = (radius >= 4) & (radius <= MAX_SHAKE_PX + _ECHO_TO_LENGTH_PX) & (ys >= 0)
    values = cepstrum[ring]
    deepest = int(np.argmin(values))
    reference = cepstrum[ring & (radius <= SCORE_RING_PX)]
    score = float((reference.mean() - values[deepest]) / (reference.std() + 1e-9))
    length = float(radius[ring][deepest]) - _ECHO_TO_LENGTH_PX
    angle = math.degrees(math.atan2(float(ys[ring][deepest]), float(xs[ring][deepest]))) % 180
    if length < MIN_SHAKE_PX or score < MIN_ECHO_SCORE:
        return None
    return Shake(length=length, angle=angle, score=score)


def _cepstrum(pixels: np.ndarray) -> np.ndarray:
    """Real cepstrum of a windowed patch, zero lag at the centre."""
    window = np.outer(np.hanning(pixels.shape[0]), np.hanning(pixels.shape[1])).astype(np.float32)
    spectrum = np.abs(np.fft.rfft2((pixels - pixels.mean()) * window))
    log_spectrum = np.log(spectrum + 1e-3 * float(spectrum.mean()))
    return np.fft.fftshift(np.fft.irfft2(log_spectrum, s=pixels.shape))


def remove_shake(image: Image.Image, shake: Shake, *, nsr: float = WIENER_NSR) -> Image.Image:
    """The greyscale image with the motion blur inverted."""
    return wiener(image, segment_kernel(shake.length, shake.angle), nsr=nsr)


def remove_defocus(image: Image.Image, sigma: float = DEFOCUS_SIGMA_PX) -> Image.Image:
    """The greyscale image with a Gaussian defocus of `sigma` px inverted."""
    return wiener(image, gaussian_kernel(sigma))


def wiener(image: Image.Image, kernel: np.ndarray, *, nsr: float = WIENER_NSR) -> Image.Image:
    """The greyscale image deconvolved by `kernel` (Wiener filter, about 60 ms at 1600 px)."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    transfer = centred_transfer(kernel, grey.shape)
    restored = np.fft.irfft2(np.fft.rfft2(grey) * np.conj(transfer) / (np.abs(transfer) ** 2 + nsr), s=grey.shape)
    return Image.fromarray(np.clip(np.rint(restored), 0, 255).astype(np.uint8))


def gaussian_kernel(sigma: float) -> np.ndarray:
    reach = int(3 * sigma) + 1
    profile = np.exp(-(np.arange(-reach, reach + 1) ** 2) / (2 * sigma**2))
    kernel = np.outer(profile, profile)
    return kernel / kernel.sum()


def segment_kernel(length: float, angle: float) -> np.ndarray:
    """A normalised line segment `length` px long at `angle` degrees (anti-aliased: each
    sample point is spread bilinearly over its four neighbouring pixels)."""
    size = int(length) + 3 | 1
    steps = np.linspace(-length / 2, length / 2, int(length * 4) + 1)
    xs = size // 2 + steps * math.cos(math.radians(angle))
    ys = size // 2 + steps * math.sin(math.radians(angle))
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    kernel = np.zeros((size, size), dtype=np.float64)
    for dx, dy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(kernel, (np.clip(y0 + dy, 0, size - 1), np.clip(x0 + dx, 0, size - 1)), weight)
    return kernel / kernel.sum()


def centred_transfer(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The kernel's transfer function on an image of `shape`, its centre moved to the origin
    (so the restored image is not shifted)."""
    rows, cols = kernel.shape
    shift_y = np.exp(2j * np.pi * np.fft.fftfreq(shape[0])[:, None] * (rows // 2))
    shift_x = np.exp(2j * np.pi * np.fft.rfftfreq(shape[1])[None, :] * (cols // 2))
    return np.fft.rfft2(kernel, s=shape) * shift_y * shift_x
