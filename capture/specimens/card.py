"""Render the back of a synthetic voter credential as a flat ID-1 card image.

The layout follows INE's published specimen backs (``shared/specimens``): positions are in
millimetres measured on them, so the same boxes serve any resolution and the photo simulator
can aim glare at the MRZ or the small QR.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from capture.specimens.identity import SpecimenIdentity
from capture.specimens.symbols import code128_image, pdf417_image, qr_image

CARD_WIDTH_MM = 85.60
CARD_HEIGHT_MM = 53.98
CORNER_RADIUS_MM = 3.18
# Matthew Skala's OCR-B (public domain, 18 KB) ships in the package: the generator, `registro specimen` and the
# tests need no system font. See fonts/README.md for its origin and licence.
OCR_B_FONT = Path(__file__).resolve().parent / "fonts" / "OCRB.otf"

LARGE_QR_BYTES = 858
LARGE_QR_MODELS = frozenset({"G", "H"})


@dataclass(frozen=True)
class BoxMM:
    """An axis-aligned box on the card, in millimetres from the top-left corner."""

    x: float
    y: float
    width: float
    height: float

    def pixels(self, px_per_mm: float) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in pixels."""
        left, top = round(self.x * px_per_mm), round(self.y * px_per_mm)
        return left, top, left + round(self.width * px_per_mm), top + round(self.height * px_per_mm)

    def size(self, px_per_mm: float) -> tuple[int, int]:
        left, top, right, bottom = self.pixels(px_per_mm)
        return right - left, bottom - top


CODE128_BOX = BoxMM(3.4, 1.6, 15.0, 4.2)
SMALL_QR_BOX = BoxMM(69.5, 7.9, 13.0, 13.0)
LARGE_QR_BOXES = (BoxMM(3.1, 9.3, 25.4, 25.4), BoxMM(30.8, 9.3, 25.4, 25.4))
LARGE_QR_PANEL = BoxMM(1.8, 7.9, 56.5, 28.2)
PDF417_BOX = BoxMM(3.0, 7.6, 54.0, 10.5)
SIGNATURE_BOX = BoxMM(63.0, 24.0, 19.0, 9.0)
MRZ_BAND = BoxMM(0.0, 36.6, CARD_WIDTH_MM, CARD_HEIGHT_MM - 36.6)
MRZ_BOX = BoxMM(3.2, 38.2, 78.0, 12.6)
_MRZ_LINE_PITCH_MM = 4.2
_MRZ_CAP_HEIGHT_MM = 3.2

_CARD_COLOUR = (234, 232, 228)
_MRZ_BAND_COLOUR = (214, 212, 208)
_INE_MAGENTA = (208, 30, 130)


def load_ocr_b(size_px: int) -> ImageFont.FreeTypeFont:
    """The bundled OCR-B font at ``size_px``; a clear error when the installed package lacks it."""
    if not OCR_B_FONT.is_file():
        raise FileNotFoundError(f"OCR-B font not found at {OCR_B_FONT}: reinstall the package (it ships the font)")
    return ImageFont.truetype(str(OCR_B_FONT), size_px)


def card_size(px_per_mm: float) -> tuple[int, int]:
    return round(CARD_WIDTH_MM * px_per_mm), round(CARD_HEIGHT_MM * px_per_mm)


def render_back(identity: SpecimenIdentity, *, px_per_mm: float = 12) -> Image.Image:
    """The flat back of ``identity``'s credential, RGBA with transparent rounded corners."""
    # Decorations (signature, large-QR payloads) vary per card but must not need an rng argument.
    decor_rng = random.Random(f"{identity.cic}:{identity.qr_url}")
    card = _background(px_per_mm)
    _draw_header(card, px_per_mm)
    _paste(card, code128_image(identity.cic, CODE128_BOX.size(px_per_mm)), CODE128_BOX, px_per_mm)
    if identity.model in LARGE_QR_MODELS:
        _draw_large_qrs(card, decor_rng, px_per_mm)
    else:
        pdf417 = pdf417_image(decor_rng.randbytes(240), PDF417_BOX.size(px_per_mm))
        _paste(card, pdf417, PDF417_BOX, px_per_mm)
    _draw_small_qr(card, identity, px_per_mm)
    _draw_signature(card, decor_rng, px_per_mm)
    _draw_mrz(card, identity.mrz_lines(), px_per_mm)
    return _round_corners(card, px_per_mm)


def _background(px_per_mm: float) -> Image.Image:
    width, height = card_size(px_per_mm)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) / px_per_mm
    # Fine guilloche-like waves (security print), faint enough to stay behind the symbols.
    waves = np.sin(xs * 2.1 + 1.7 * np.sin(ys * 0.45)) * np.sin(ys * 1.3 + 1.1 * np.sin(xs * 0.3))
    shade = np.clip(np.abs(waves) * 9.0, 0, 9).astype(np.float32)
    base = np.empty((height, width, 3), np.float32)
    base[:] = _CARD_COLOUR
    band_top = round(MRZ_BAND.y * px_per_mm)
    base[band_top:] = _MRZ_BAND_COLOUR
    base -= shade[..., None] * np.array([1.0, 0.8, 0.6], np.float32)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")


def _draw_header(card: Image.Image, px_per_mm: float) -> None:
    draw = ImageDraw.Draw(card)
    small = ImageFont.load_default(size=max(6, round(1.1 * px_per_mm)))
    for index, colour in enumerate(((244, 222, 196), (214, 226, 238), (240, 214, 208), (218, 232, 212))):
        x, y, radius = (30 + index * 9.5) * px_per_mm, 4.5 * px_per_mm, 2.2 * px_per_mm
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    for box, label in ((BoxMM(22.0, 1.6, 22.0, 5.0), "ELECCIONES FEDERALES"),
                       (BoxMM(44.5, 1.6, 24.0, 5.0), "LOCALES Y EXTRAORDINARIAS")):
        draw.rectangle(box.pixels(px_per_mm), outline=(200, 198, 195), width=max(1, round(px_per_mm / 8)))
        draw.text((box.pixels(px_per_mm)[0] + px_per_mm, box.pixels(px_per_mm)[1] + px_per_mm / 2), label,
                  fill=(150, 150, 150), font=small)
    _draw_logo(draw, px_per_mm)


def _draw_logo(draw: ImageDraw.ImageDraw, px_per_mm: float) -> None:
    left, top = 71.5 * px_per_mm, 2.4 * px_per_mm
    size = 1.6 * px_per_mm
    diamond = [(left, top + size), (left + size, top), (left + 2 * size, top + size), (left + size, top + 2 * size)]
    draw.polygon(diamond, fill=_INE_MAGENTA)
    font = ImageFont.load_default(size=round(3.2 * px_per_mm))
    draw.text((left + 2.3 * size, top - 0.25 * px_per_mm), "INE", fill=_INE_MAGENTA, font=font)


def _draw_large_qrs(card: Image.Image, rng: random.Random, px_per_mm: float) -> None:
    ImageDraw.Draw(card).rectangle(LARGE_QR_PANEL.pixels(px_per_mm), fill=(255, 255, 255))
    for part_index, box in enumerate(LARGE_QR_BOXES):
        payload = part_index.to_bytes(2, "big") + rng.randbytes(LARGE_QR_BYTES - 2)
        _paste(card, qr_image(payload, box.size(px_per_mm)[0], quiet_modules=0), box, px_per_mm)


def _draw_small_qr(card: Image.Image, identity: SpecimenIdentity, px_per_mm: float) -> None:
    symbol = qr_image(identity.qr_url, SMALL_QR_BOX.size(px_per_mm)[0], quiet_modules=2)
    if identity.model in LARGE_QR_MODELS:
        symbol = symbol.transpose(Image.Transpose.ROTATE_270)
    _paste(card, symbol, SMALL_QR_BOX, px_per_mm)


def _draw_signature(card: Image.Image, rng: random.Random, px_per_mm: float) -> None:
    draw = ImageDraw.Draw(card)
    left, top, right, bottom = SIGNATURE_BOX.pixels(px_per_mm)
    ghost = (left + 0.3 * (right - left), top - 2 * px_per_mm, left + 0.6 * (right - left), bottom)
    draw.ellipse(ghost, fill=(238, 190, 160))
    phases = [rng.uniform(0, 6.3) for _ in range(3)]
    points = []
    for step in range(60):
        t = step / 59
        wobble = sum(np.sin(t * (5 + 3 * k) + phase) for k, phase in enumerate(phases)) / 3
        points.append((left + t * (right - left) * 0.9, top + (0.35 + 0.3 * wobble) * (bottom - top) * 0.7))
    draw.line(points, fill=(40, 40, 45), width=max(1, round(0.25 * px_per_mm)))
    font = ImageFont.load_default(size=max(5, round(0.9 * px_per_mm)))
    for row, text in enumerate(("SECRETARIO EJECUTIVO DEL", "INSTITUTO NACIONAL ELECTORAL")):
        draw.text((left, bottom - (1.8 - row) * 1.1 * px_per_mm), text, fill=(70, 70, 70), font=font)


def _draw_mrz(card: Image.Image, lines: tuple[str, str, str], px_per_mm: float) -> None:
    pitch = MRZ_BOX.width / 30 * px_per_mm
    # OCR-B's advance is 0.723 em and its cap height 0.70 em; the card's MRZ is taller than
    # OCR-B's proportions, so each line is drawn at the pitch's size and stretched vertically.
    font = load_ocr_b(max(4, round(pitch / 0.723)))
    _, cap_top, _, cap_bottom = font.getbbox("I")
    stretch = _MRZ_CAP_HEIGHT_MM * px_per_mm / (cap_bottom - cap_top)
    for index, line in enumerate(lines):
        strip = _mrz_strip(line, font, pitch)
        strip = strip.resize((strip.width, max(1, round(strip.height * stretch))), Image.Resampling.BICUBIC)
        cap_line = (MRZ_BOX.y + index * _MRZ_LINE_PITCH_MM) * px_per_mm
        card.paste((20, 20, 24), (round(MRZ_BOX.x * px_per_mm), round(cap_line - cap_top * stretch)), strip)


def _mrz_strip(line: str, font: ImageFont.FreeTypeFont, pitch: float) -> Image.Image:
    """An alpha mask of one MRZ line, characters placed at a fixed pitch."""
    strip = Image.new("L", (round(pitch * 30) + 2, round(font.size * 1.4)), 0)
    draw = ImageDraw.Draw(strip)
    for position, char in enumerate(line):
        draw.text((position * pitch, 0), char, fill=255, font=font)
    return strip


def _paste(card: Image.Image, symbol: Image.Image, box: BoxMM, px_per_mm: float) -> None:
    left, top, _, _ = box.pixels(px_per_mm)
    card.paste(symbol.convert("RGB"), (left, top))


def _round_corners(card: Image.Image, px_per_mm: float) -> Image.Image:
    mask = Image.new("L", card.size, 0)
    radius = round(CORNER_RADIUS_MM * px_per_mm)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, card.width - 1, card.height - 1), radius=radius, fill=255)
    rgba = card.convert("RGBA")
    rgba.putalpha(mask)
    return rgba
