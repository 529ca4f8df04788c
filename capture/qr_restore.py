"""The QR's last retries on a blurred photo: deconvolution of the QR's own square, several ways.

The whole-photo restorations (capture.deblur) are tuned for the MRZ's large strokes; the QR's
modules are finer and read only when the kernel is close and the strength right, and which
strength is right depends on the photo's noise. Once the MRZ says where the small QR is, its
square alone (a few hundred pixels: a few milliseconds per try) is restored with kernels around
the estimated one and at several strengths, most likely first, until one reads or the deadline
passes.

Nothing here decides a value: each restored square goes to the same QR reader, and a URL counts
only when the QR's own error correction and the INE URL form accept it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from itertools import product
from typing import Final

import numpy as np
from PIL import Image

from capture import budget
from capture.deblur import centred_transfer, estimate_shake, gaussian_kernel, segment_kernel
from capture.intake import WorkingImage
from capture.qr import Region, read_qr_region
from capture.result import QrReading

# Around the estimated shake: the estimate is within about a pixel and a degree or two of
# the truth, and a pixel's error on a 40 px smear is enough to garble modules.
SHAKE_STEPS: Final = ((0.0, 0.0), (0.0, -1.0), (0.0, 1.0), (-1.0, 0.0), (1.0, 0.0))
# Defocus has no echo to measure: the readable range of Gaussian spreads (working pixels), likeliest first.
DEFOCUS_SIGMAS: Final = (3.0, 2.0, 4.0, 5.0, 1.5)
# Noise-to-signal ratios of the Wiener filter, strongest restoration first.
STRENGTHS: Final = (0.003, 0.01)
# The square cut out around the QR, in QR-region sides from its centre each way.
REACH: Final = 0.75


def kernels(working: WorkingImage) -> Iterator[np.ndarray]:
    """Blur kernels to try on the photo: around its measured shake, or a range of defocus."""
    shake = estimate_shake(working.image)
    if shake is None:
        yield from (gaussian_kernel(sigma) for sigma in DEFOCUS_SIGMAS)
        return
    for length_step, angle_step in SHAKE_STEPS:
        yield segment_kernel(shake.length + length_step, shake.angle + angle_step)


def deconvolve(image: Image.Image, kernel: np.ndarray, *, nsr: float) -> Image.Image:
    """Wiener deconvolution of a crop, mirrored at its edges first: the filter treats the
    image as periodic, and a crop's opposite edges would otherwise ring into the QR."""
    pad = kernel.shape[0]
    pixels = np.pad(np.asarray(image.convert("L"), dtype=np.float32), pad, mode="reflect")
    transfer = centred_transfer(kernel, pixels.shape)
    restored = np.fft.irfft2(np.fft.rfft2(pixels) * np.conj(transfer) / (np.abs(transfer) ** 2 + nsr),
                             s=pixels.shape)[pad:-pad, pad:-pad]
    return Image.fromarray(np.clip(np.rint(restored), 0, 255).astype(np.uint8))


def read_restored_region(working: WorkingImage, region: Region, *, deadline: float) -> QrReading:
    """The QR in `region` (full-size pixels) read from its square deconvolved with each kernel
    at each strength in turn; stops at the first URL or at `deadline` (a budget.now() value)."""
    reach = region.side * working.scale * REACH
    cx, cy = region.cx * working.scale, region.cy * working.scale
    box = (max(0, round(cx - reach)), max(0, round(cy - reach)),
           min(working.image.width, round(cx + reach)), min(working.image.height, round(cy + reach)))
    reading = QrReading()
    if box[2] - box[0] < 8 or box[3] - box[1] < 8:
        return reading
    crop = working.image.crop(box)
    for kernel, nsr in product(kernels(working), STRENGTHS):
        if reading.ok or budget.now() > deadline:
            break
        patched = working.image.copy()
        patched.paste(deconvolve(crop, kernel, nsr=nsr), box[:2])
        found = read_qr_region(replace(working, image=patched), region, deadline=deadline, sharpened=False)
        reading = replace(found, ms=reading.ms + found.ms)
    return reading
