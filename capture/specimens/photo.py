"""Simulated phone photos of a rendered card, one capture condition at a time.

``photograph`` draws every choice from the ``random.Random`` it is given, so the same seed
gives the same JPEG bytes. The scene is composed at the card's own resolution (at most the
output size) and scaled up once, which is what keeps a 12 MP photo fast.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
from PIL import Image, ImageChops, ImageFilter

from capture.specimens.card import CARD_HEIGHT_MM, CARD_WIDTH_MM, MRZ_BOX, SMALL_QR_BOX, BoxMM
from capture.specimens.scene import (
    Pose,
    apply_homography,
    drop_shadow,
    fit_in_frame,
    glare_mask,
    homography,
    light_field,
    projected_corners,
    table_texture,
    warp_onto,
)

PHONE_FRAME = (4000, 3000)  # 12 MP, the usual rear-camera size
DISTANT_FRAME = (2000, 1500)
# Low-resolution phone photos (a messaging app's copy, an old or front camera), 640-1000 px long.
TINY_FRAMES = ((640, 480), (800, 600), (960, 720), (1000, 750))
_EXIF_ORIENTATION_TAG = 0x0112
_CARD_BOX = BoxMM(0.0, 0.0, CARD_WIDTH_MM, CARD_HEIGHT_MM)


class Condition(StrEnum):
    NOMINAL = "nominal"
    ROTATION = "rotation"
    PERSPECTIVE = "perspective"
    BLUR = "blur"
    MOTION_BLUR = "motion_blur"
    LOW_LIGHT = "low_light"
    GLARE = "glare"
    JPEG = "jpeg"
    DISTANCE = "distance"
    MIXED = "mixed"
    # Harder than the above, calibrated so that a fraction of the photos stays physically readable.
    HEAVY_BLUR = "heavy_blur"
    STRONG_SHAKE = "strong_shake"
    VERY_FAR = "very_far"
    TINY = "tiny"


@dataclass(frozen=True)
class Glare:
    target: BoxMM
    radius_mm: float
    squash: float
    angle: float
    spot: tuple[float, float]  # position inside ``target``, each 0..1


@dataclass(frozen=True)
class Shot:
    """Every choice behind one photo; lengths on the card are in millimetres."""

    frame: tuple[int, int]
    width_fraction: float
    offset: tuple[float, float]
    pose: Pose
    blur_mm: float
    motion_mm: float
    motion_angle: float
    gain: float
    noise: float
    shadow: float
    jpeg_quality: int
    glare: Glare | None = None
    exif_orientation: int = 1


def plan_shot(rng: random.Random, condition: Condition) -> Shot:
    """The choices for one photo under ``condition``."""
    shot = _nominal(rng)
    if condition is Condition.MIXED:
        candidates = [c for c in _MODIFIERS if c is not Condition.ROTATION]
        for chosen in rng.sample(candidates, rng.choice((2, 3))):
            shot = _MODIFIERS[chosen](shot, rng, 0.5)
        return _rotate(shot, rng, 0.3)
    if condition is Condition.NOMINAL:
        return shot
    if condition in _HARD_MODIFIERS:
        return _HARD_MODIFIERS[condition](shot, rng)
    return _MODIFIERS[condition](shot, rng, 1.0)


def _nominal(rng: random.Random) -> Shot:
    return Shot(
        frame=PHONE_FRAME,
        width_fraction=rng.uniform(0.55, 0.8),
        offset=(rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6)),
        pose=Pose(roll=rng.uniform(-4, 4), pitch=rng.uniform(-6, 6), yaw=rng.uniform(-6, 6)),
        blur_mm=rng.uniform(0.02, 0.05),
        motion_mm=0.0,
        motion_angle=0.0,
        gain=rng.uniform(0.85, 1.0),
        noise=rng.uniform(1.5, 3.0),
        shadow=rng.uniform(0.2, 0.45),
        jpeg_quality=rng.randint(85, 93),
    )


def _rotate(shot: Shot, rng: random.Random, strength: float) -> Shot:
    quarter = rng.choice((0, 90, 180, 270)) if strength >= 1 else 0
    roll = quarter + rng.uniform(-30, 30) * strength + rng.uniform(-4, 4)
    orientation = rng.choice((1, 1, 6, 8)) if strength >= 1 else 1
    return replace(shot, pose=replace(shot.pose, roll=roll), exif_orientation=orientation)


def _tilt(shot: Shot, rng: random.Random, strength: float) -> Shot:
    pitch = rng.choice((-1, 1)) * rng.uniform(12, 12 + 26 * strength)
    yaw = rng.choice((-1, 1)) * rng.uniform(0, 10 + 26 * strength)
    return replace(shot, pose=replace(shot.pose, pitch=pitch, yaw=yaw))


def _defocus(shot: Shot, rng: random.Random, strength: float) -> Shot:
    return replace(shot, blur_mm=rng.uniform(0.1, 0.1 + 0.35 * strength))


def _shake(shot: Shot, rng: random.Random, strength: float) -> Shot:
    return replace(shot, motion_mm=rng.uniform(0.4, 0.4 + 1.8 * strength), motion_angle=rng.uniform(0, 180))


def _darken(shot: Shot, rng: random.Random, strength: float) -> Shot:
    gain = rng.uniform(0.08, 0.3) if strength >= 1 else rng.uniform(0.3, 0.5)
    return replace(shot, gain=gain, noise=rng.uniform(5, 5 + 10 * strength), shadow=0.15)


def _glare(shot: Shot, rng: random.Random, strength: float) -> Shot:
    target = rng.choice((MRZ_BOX, MRZ_BOX, SMALL_QR_BOX, _CARD_BOX))
    glare = Glare(
        target=target,
        radius_mm=rng.uniform(4, 4 + 10 * strength),
        squash=rng.uniform(0.35, 1.0),
        angle=rng.uniform(0, math.pi),
        spot=(rng.random(), rng.random()),
    )
    return replace(shot, glare=glare)


def _compress(shot: Shot, rng: random.Random, strength: float) -> Shot:
    return replace(shot, jpeg_quality=round(rng.uniform(10, 35) if strength >= 1 else rng.uniform(35, 50)))


def _step_back(shot: Shot, rng: random.Random, strength: float) -> Shot:
    fraction = rng.uniform(0.2, 0.4) if strength >= 1 else rng.uniform(0.35, 0.5)
    return replace(shot, frame=DISTANT_FRAME, width_fraction=fraction)


_MODIFIERS = {
    Condition.ROTATION: _rotate,
    Condition.PERSPECTIVE: _tilt,
    Condition.BLUR: _defocus,
    Condition.MOTION_BLUR: _shake,
    Condition.LOW_LIGHT: _darken,
    Condition.GLARE: _glare,
    Condition.JPEG: _compress,
    Condition.DISTANCE: _step_back,
}


def _heavy_defocus(shot: Shot, rng: random.Random) -> Shot:
    return replace(shot, blur_mm=rng.uniform(0.4, 0.75))


def _strong_shake(shot: Shot, rng: random.Random) -> Shot:
    return replace(shot, motion_mm=rng.uniform(2.2, 4.0), motion_angle=rng.uniform(0, 180))


def _very_far(shot: Shot, rng: random.Random) -> Shot:
    """A 12 MP photo of a card filling 8-18% of its width (3.7-8.4 px/mm)."""
    fraction = rng.uniform(0.08, 0.18)
    return _at_least_pixel_blur(replace(shot, width_fraction=fraction, offset=(rng.uniform(-0.8, 0.8),
                                                                               rng.uniform(-0.8, 0.8))))


def _tiny(shot: Shot, rng: random.Random) -> Shot:
    """A low-resolution phone photo (3.7-9.3 px/mm on the card), recompressed harder."""
    shot = replace(shot, frame=rng.choice(TINY_FRAMES), jpeg_quality=rng.randint(70, 88))
    return _at_least_pixel_blur(shot)


def _at_least_pixel_blur(shot: Shot) -> Shot:
    """A sensor pixel integrates light over its whole area: with the card drawn far below its
    own resolution, blur of less than about half a photo pixel would alias like no camera does."""
    pixel_mm = CARD_WIDTH_MM / (shot.frame[0] * shot.width_fraction)
    return replace(shot, blur_mm=max(shot.blur_mm, 0.45 * pixel_mm))


# Not among _MODIFIERS: MIXED samples from those, and its photos must stay what they were.
_HARD_MODIFIERS = {
    Condition.HEAVY_BLUR: _heavy_defocus,
    Condition.STRONG_SHAKE: _strong_shake,
    Condition.VERY_FAR: _very_far,
    Condition.TINY: _tiny,
}


def photograph(card: Image.Image, rng: random.Random, condition: Condition) -> bytes:
    """A JPEG of the RGBA ``card`` lying on a table, shot under ``condition``."""
    return render_shot(card, plan_shot(rng, condition), np.random.default_rng(rng.getrandbits(64)))


def render_shot(card: Image.Image, shot: Shot, noise_rng: np.random.Generator) -> bytes:
    card_px_per_mm = card.width / CARD_WIDTH_MM
    shape = projected_corners(CARD_HEIGHT_MM / CARD_WIDTH_MM, shot.pose)
    quad = fit_in_frame(shape, shot.frame, shot.width_fraction, shot.offset)
    photo_px_per_mm = _px_per_mm(quad)
    # Compose at the card's own resolution; scaling up later adds no detail a card lacks.
    scale = min(1.0, card_px_per_mm / photo_px_per_mm)
    work_frame = (round(shot.frame[0] * scale), round(shot.frame[1] * scale))
    frame = table_texture(noise_rng, work_frame)
    drop_shadow(frame, quad * scale, shot.shadow)
    warp_onto(frame, _camera_blur(card, shot, card_px_per_mm), quad * scale)
    if scale < 1.0:
        frame = frame.resize(shot.frame, Image.Resampling.BICUBIC)
    frame = ImageChops.multiply(frame, light_field(noise_rng, shot.frame, shot.gain).convert("RGB"))
    if shot.glare is not None:
        _add_glare(frame, shot.glare, quad, photo_px_per_mm)
    frame = _sensor_noise(frame, shot.noise, noise_rng)
    return _encode(frame, shot)


def _px_per_mm(quad: np.ndarray) -> float:
    top_edge = np.linalg.norm(quad[1] - quad[0])
    bottom_edge = np.linalg.norm(quad[2] - quad[3])
    return float(max(top_edge, bottom_edge) / CARD_WIDTH_MM)


def _camera_blur(card: Image.Image, shot: Shot, px_per_mm: float) -> Image.Image:
    """Defocus and shake, applied in the card's own pixels (cheaper than on the whole photo)."""
    blurred = card
    if shot.blur_mm > 0:
        blurred = blurred.filter(ImageFilter.GaussianBlur(shot.blur_mm * px_per_mm))
    if shot.motion_mm > 0:
        length = shot.motion_mm * px_per_mm
        turned = blurred.rotate(shot.motion_angle, Image.Resampling.BILINEAR, expand=True)
        turned = turned.filter(ImageFilter.BoxBlur((length / 2, 0)))
        back = turned.rotate(-shot.motion_angle, Image.Resampling.BILINEAR, expand=True)
        left, top = (back.width - card.width) // 2, (back.height - card.height) // 2
        blurred = back.crop((left, top, left + card.width, top + card.height))
    return blurred


def _add_glare(frame: Image.Image, glare: Glare, quad: np.ndarray, px_per_mm: float) -> None:
    to_photo = homography(_card_corners_mm(), quad)
    spot_mm = np.array([[glare.target.x + glare.spot[0] * glare.target.width,
                         glare.target.y + glare.spot[1] * glare.target.height]])
    centre = apply_homography(to_photo, spot_mm)[0]
    mask = glare_mask(frame.size, centre, glare.radius_mm * px_per_mm, glare.squash, glare.angle)
    frame.paste((255, 255, 250), (0, 0), mask)


def _card_corners_mm() -> np.ndarray:
    width, height = CARD_WIDTH_MM, CARD_HEIGHT_MM
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], float)


def _sensor_noise(frame: Image.Image, sigma: float, rng: np.random.Generator) -> Image.Image:
    # A tiled noise patch: per-pixel noise over 12 MP from numpy would cost more than the rest.
    tile = np.clip(rng.normal(128, sigma, (256, 256, 3)), 0, 255).astype(np.uint8)
    width, height = frame.size
    reps = (math.ceil(height / 256), math.ceil(width / 256), 1)
    noise = Image.fromarray(np.tile(tile, reps)[:height, :width], "RGB")
    return ImageChops.add(frame, noise, 1.0, -128)


def _encode(frame: Image.Image, shot: Shot) -> bytes:
    buffer = io.BytesIO()
    exif = Image.Exif()
    if shot.exif_orientation in (6, 8):
        # Stored sideways with an EXIF tag, as phones do: a viewer that honours the tag shows
        # the composed scene upright, one that ignores it sees it turned by 90 degrees.
        turn = Image.Transpose.ROTATE_90 if shot.exif_orientation == 6 else Image.Transpose.ROTATE_270
        frame = frame.transpose(turn)
        exif[_EXIF_ORIENTATION_TAG] = shot.exif_orientation
    frame.save(buffer, "JPEG", quality=shot.jpeg_quality, exif=exif.tobytes())
    return buffer.getvalue()
