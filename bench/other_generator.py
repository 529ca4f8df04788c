"""Photos of credential backs made independently of `capture.specimens`: the bench's second opinion.

The card is INE's own published G/H specimen back (read from /work/shared/specimens, or `REGISTRO_SPECIMEN_BACK`;
never copied into the repository), its MRZ and small QR painted over with a fresh identity whose check digits hold
(computed here, not with the app's code), drawn with OpenCV and segno; then the photo: an OpenCV homography from
jittered corners onto a smooth random background, Gaussian defocus and a linear shake kernel in the photo's own
pixels, a lighting gradient, per-pixel sensor noise and OpenCV's JPEG. Nothing of the corpus's scene code is used,
so a reader tuned on that corpus is measured on photos it was not tuned on. Deterministic for a seed.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import segno
from PIL import Image, ImageDraw, ImageFont

SPECIMEN: Final = Path(
    os.environ.get("REGISTRO_SPECIMEN_BACK", "/work/shared/specimens/ine-specimen-back-model-gh.jpg"))
FONT: Final = Path(__file__).resolve().parents[1] / "capture" / "specimens" / "fonts" / "OCRB.otf"
# The card inside the specimen picture (pixels of the 584 x 449 file), the small QR and the MRZ area in it.
CARD_IN_SPECIMEN: Final = (25, 88, 552, 415)
QR_IN_SPECIMEN: Final = (445, 138, 527, 220)
MRZ_IN_SPECIMEN: Final = (36, 318, 545, 408)
CARD_PX: Final = (2568, 1620)  # 30 px/mm on 85.6 x 54 mm
CARD_MM: Final = 85.6


class OtherCondition(StrEnum):
    NOMINAL = "nominal"
    PERSPECTIVE = "perspective"
    HEAVY_BLUR = "heavy_blur"
    STRONG_SHAKE = "strong_shake"
    VERY_FAR = "very_far"
    TINY = "tiny"


@dataclass(frozen=True)
class OtherTruth:
    qr_url: str
    cic: str
    identificador_ciudadano: str | None
    ocr: str | None
    expiry_year: int


@dataclass(frozen=True)
class OtherPhoto:
    data: bytes
    identity: OtherTruth
    condition: OtherCondition
    name: str


def check_digit(text: str) -> str:
    """ICAO 9303 7-3-1 (written again here so the generator does not share the reader's code)."""
    values = [int(c) if c.isdigit() else (0 if c == "<" else ord(c) - 55) for c in text]
    return str(sum(v * (7, 3, 1)[i % 3] for i, v in enumerate(values)) % 10)


def mrz_lines(rng: random.Random) -> tuple[list[str], OtherTruth]:
    cic = f"{rng.randrange(10**8, 10**9)}"
    identificador = f"{rng.randrange(10**8, 10**9)}"
    line1 = f"IDMEX{cic}{check_digit(cic)}<<{rng.randrange(1000, 10000)}{identificador}"
    birth = f"{rng.randrange(50, 100):02d}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    expiry_year = rng.randrange(2027, 2036)
    expiry = f"{expiry_year % 100:02d}1231"
    head = f"{birth}{check_digit(birth)}{rng.choice('HM')}{expiry}{check_digit(expiry)}MEX"
    optional = "<02<<12345<"
    composite = check_digit(line1[5:30] + head[0:7] + head[8:15] + optional)
    line2 = head + optional + composite
    token = "".join(str(rng.randrange(10)) for _ in range(24))
    url = f"http://qr.ine.mx/{token}/20{rng.randrange(14, 26)}0{rng.randrange(1, 10)}15/P/{rng.randrange(10**6):06d}"
    truth = OtherTruth(qr_url=url, cic=cic, identificador_ciudadano=identificador, ocr=None, expiry_year=expiry_year)
    return [line1, line2, "PEREZ<LOPEZ<<JUANA<MARIA<<<<<<"], truth


def draw_card(rng: random.Random) -> tuple[np.ndarray, OtherTruth]:
    """The specimen's card at 30 px/mm (BGR) with a new identity's MRZ and small QR."""
    source = cv2.imread(str(SPECIMEN), cv2.IMREAD_COLOR)
    if source is None:
        raise FileNotFoundError(SPECIMEN)
    left, top, right, bottom = CARD_IN_SPECIMEN
    sx, sy = CARD_PX[0] / (right - left), CARD_PX[1] / (bottom - top)
    card = cv2.resize(source[top:bottom, left:right], CARD_PX, interpolation=cv2.INTER_CUBIC)
    lines, truth = mrz_lines(rng)

    def box(area: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return round((area[0] - left) * sx), round((area[1] - top) * sy), round((area[2] - left) * sx), round(
            (area[3] - top) * sy)

    mx0, my0, mx1, my1 = box(MRZ_IN_SPECIMEN)
    card[my0:my1, mx0:mx1] = np.median(card[my0:my1, mx0:mx1].reshape(-1, 3), axis=0)
    canvas = Image.fromarray(card)
    probe = ImageFont.truetype(str(FONT), size=100)
    # 30 characters across the band's width (OCR-B is monospaced), at most 0.75 of a line's pitch tall.
    size = min(100 * 0.96 * (mx1 - mx0) / probe.getlength(lines[0]), (my1 - my0) / 3 * 0.75)
    font = ImageFont.truetype(str(FONT), size=round(size))
    draw = ImageDraw.Draw(canvas)
    for index, line in enumerate(lines):
        draw.text((mx0, my0 + index * (my1 - my0) / 3), line, fill=(30, 30, 30), font=font)
    qx0, qy0, qx1, qy1 = box(QR_IN_SPECIMEN)
    symbol = segno.make(truth.qr_url, mode="byte", error="L", boost_error=False, micro=False)
    matrix = np.pad(np.array(symbol.matrix, dtype=np.uint8), 2)
    modules = Image.fromarray(((1 - matrix) * 255).astype(np.uint8)).resize((qx1 - qx0, qy1 - qy0),
                                                                             Image.Resampling.NEAREST)
    # On G/H the small QR is turned a quarter: its top edge runs down the card.
    canvas.paste(modules.transpose(Image.Transpose.ROTATE_270).convert("RGB"), (qx0, qy0))
    return np.asarray(canvas).copy(), truth


@dataclass(frozen=True)
class Optics:
    frame: tuple[int, int]
    width_fraction: float
    jitter: float  # corner displacement, fraction of the card's width
    blur_mm: float
    shake_mm: float
    quality: int


def optics(rng: random.Random, condition: OtherCondition) -> Optics:
    base = Optics((4000, 3000), rng.uniform(0.5, 0.75), rng.uniform(0.0, 0.04), rng.uniform(0.02, 0.06), 0.0,
                  rng.randint(82, 94))
    changes: dict[OtherCondition, dict[str, object]] = {
        OtherCondition.NOMINAL: {},
        OtherCondition.PERSPECTIVE: {"jitter": rng.uniform(0.08, 0.16)},
        OtherCondition.HEAVY_BLUR: {"blur_mm": rng.uniform(0.35, 0.7)},
        OtherCondition.STRONG_SHAKE: {"shake_mm": rng.uniform(2.0, 3.8)},
        OtherCondition.VERY_FAR: {"width_fraction": rng.uniform(0.09, 0.18)},
        OtherCondition.TINY: {"frame": rng.choice(((640, 480), (800, 600), (1000, 750))),
                              "quality": rng.randint(70, 86)},
    }
    return Optics(**{**base.__dict__, **changes[condition]})


def photograph(card: np.ndarray, setting: Optics, rng: random.Random) -> bytes:
    noise = np.random.default_rng(rng.getrandbits(64))
    width, height = setting.frame
    card_w = setting.width_fraction * width
    card_h = card_w * CARD_PX[1] / CARD_PX[0]
    x0 = rng.uniform(0.03 * width, width - card_w - 0.03 * width)
    y0 = rng.uniform(0.03 * height, max(0.03 * height, height - card_h - 0.03 * height))
    corners = np.array([[x0, y0], [x0 + card_w, y0], [x0 + card_w, y0 + card_h], [x0, y0 + card_h]], np.float32)
    shifts = np.array([[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(4)], np.float32)
    corners += shifts * setting.jitter * card_w
    # Shrink the card first with area averaging (as a sensor integrates), then warp.
    shrink = min(1.0, 1.3 * card_w / CARD_PX[0])
    small = cv2.resize(card, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    source = np.array([[0, 0], [small.shape[1], 0], [small.shape[1], small.shape[0]], [0, small.shape[0]]], np.float32)
    matrix = cv2.getPerspectiveTransform(source, corners)
    background = cv2.resize(noise.integers(60, 200, (6, 8, 3), dtype=np.uint8), (width, height),
                            interpolation=cv2.INTER_CUBIC)
    frame = cv2.warpPerspective(small, matrix, (width, height), dst=background, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_TRANSPARENT)
    px_per_mm = card_w / CARD_MM
    frame = _blur(frame, setting.blur_mm * px_per_mm, setting.shake_mm * px_per_mm, rng.uniform(0, 180))
    gradient = np.linspace(rng.uniform(0.75, 0.95), rng.uniform(0.95, 1.05), width, dtype=np.float32)
    lit = frame.astype(np.float32) * gradient[None, :, None]
    lit += noise.normal(0, rng.uniform(1.5, 4.0), (height, width, 1)).astype(np.float32)
    pixels = np.clip(lit, 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, setting.quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return encoded.tobytes()


def _blur(frame: np.ndarray, sigma_px: float, shake_px: float, angle: float) -> np.ndarray:
    if sigma_px > 0.3:
        frame = cv2.GaussianBlur(frame, (0, 0), sigma_px)
    if shake_px >= 1:
        size = int(shake_px) | 1
        line = np.zeros((size, size), np.float32)
        line[size // 2, :] = 1
        rotation = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), angle, 1.0)
        kernel = cv2.warpAffine(line, rotation, (size, size))
        frame = cv2.filter2D(frame, -1, kernel / kernel.sum())
    return frame


def make_photo(seed: int, condition: OtherCondition, index: int) -> OtherPhoto:
    rng = random.Random(f"other:{seed}:{condition.value}:{index}")
    card, truth = draw_card(rng)
    data = photograph(card, optics(rng, condition), rng)
    return OtherPhoto(data=data, identity=truth, condition=condition, name=f"other-{condition.value}-{index:03d}")


def other_corpus(seed: int, per_condition: int, conditions: Sequence[OtherCondition]) -> Iterator[OtherPhoto]:
    for condition in conditions:
        for index in range(per_condition):
            yield make_photo(seed, condition, index)
