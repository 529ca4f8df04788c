"""Barcode symbols as greyscale images sized in pixels (0 = ink, 255 = paper).

QR codes come from segno because it can force what INE's cards use (byte mode, level L, no
error-level boost): zxing-cpp's writer picks mixed segments and so a smaller version than the
real small QR (version 4). Code128 and PDF417 come from zxing-cpp's writer.
"""

from __future__ import annotations

import numpy as np
import segno
import zxingcpp
from PIL import Image

INK = 28
PAPER = 255
# Modules are drawn this many pixels wide before the box filter brings them to the final
# size, so non-integer module widths get soft (anti-aliased) edges like a printed symbol.
_OVERSAMPLE = 8


def qr_matrix(payload: str | bytes) -> np.ndarray:
    """The module matrix (1 = dark) of a byte-mode, level-L QR code, without quiet zone."""
    qr = segno.make(payload, mode="byte", error="L", boost_error=False, micro=False)
    return np.array(qr.matrix, dtype=np.uint8)


def qr_image(payload: str | bytes, size_px: int, quiet_modules: int = 2) -> Image.Image:
    """A square QR image ``size_px`` wide including ``quiet_modules`` of white on each side."""
    matrix = np.pad(qr_matrix(payload), quiet_modules)
    return _modules_to_image(matrix, (size_px, size_px))


def code128_image(text: str, size_px: tuple[int, int]) -> Image.Image:
    """A Code128 symbol stretched to ``size_px`` (width, height), without quiet zones."""
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.Code128)
    return _writer_image_to_size(barcode, size_px)


def pdf417_image(payload: bytes, size_px: tuple[int, int]) -> Image.Image:
    """A PDF417 symbol of binary ``payload`` stretched to ``size_px``, without quiet zones."""
    barcode = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.PDF417, columns=12)
    return _writer_image_to_size(barcode, size_px)


def _writer_image_to_size(barcode: zxingcpp.Barcode, size_px: tuple[int, int]) -> Image.Image:
    pixels = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False))
    dark = (pixels < 128).astype(np.uint8)
    return _modules_to_image(dark, size_px)


def _modules_to_image(dark: np.ndarray, size_px: tuple[int, int]) -> Image.Image:
    grey = np.where(dark > 0, INK, PAPER).astype(np.uint8)
    height, width = grey.shape
    big = Image.fromarray(grey).resize((width * _OVERSAMPLE, height * _OVERSAMPLE), Image.Resampling.NEAREST)
    return big.resize(size_px, Image.Resampling.BOX)
