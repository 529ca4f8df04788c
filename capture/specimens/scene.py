"""Scene pieces for simulated phone photos: card pose, homographies, table textures, light.

Everything that is random takes a numpy ``Generator`` (or explicit numbers), so a photo is a
pure function of its seed. Large fields (textures, light, glare) are computed on a coarse grid
and resized, which keeps a 12 MP photo well under a second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Quad = np.ndarray  # shape (4, 2): top-left, top-right, bottom-right, bottom-left, in pixels
_COARSE = 8  # textures and light fields are computed at 1/_COARSE of the frame size


@dataclass(frozen=True)
class Pose:
    """How the card sits in front of the camera: in-plane roll and out-of-plane tilts, degrees."""

    roll: float
    pitch: float
    yaw: float


def projected_corners(aspect: float, pose: Pose, camera_distance: float = 2.2) -> Quad:
    """Corners of a card of width 1 and height ``aspect`` seen through a pinhole, centred at 0.

    ``camera_distance`` is in card widths; a phone held close gives visible foreshortening.
    """
    half = aspect / 2
    corners = np.array([[-0.5, -half, 0], [0.5, -half, 0], [0.5, half, 0], [-0.5, half, 0]])
    rotated = corners @ _rotation(pose).T
    depth = rotated[:, 2] + camera_distance
    projected = rotated[:, :2] * (camera_distance / depth)[:, None]
    return np.asarray(projected - projected.mean(axis=0))


def _rotation(pose: Pose) -> np.ndarray:
    roll, pitch, yaw = (math.radians(angle) for angle in (pose.roll, pose.pitch, pose.yaw))
    cos, sin = math.cos, math.sin
    about_z = np.array([[cos(roll), -sin(roll), 0], [sin(roll), cos(roll), 0], [0, 0, 1]])
    about_x = np.array([[1, 0, 0], [0, cos(pitch), -sin(pitch)], [0, sin(pitch), cos(pitch)]])
    about_y = np.array([[cos(yaw), 0, sin(yaw)], [0, 1, 0], [-sin(yaw), 0, cos(yaw)]])
    return np.asarray(about_y @ about_x @ about_z)


def fit_in_frame(
    shape: Quad, frame: tuple[int, int], width_fraction: float, offset: tuple[float, float]
) -> Quad:
    """Scale ``shape`` so its bounding box spans ``width_fraction`` of the frame (shrinking it
    if it would not fit) and move it by ``offset`` (each in -1..1 of the free room)."""
    width, height = frame
    span = shape.max(axis=0) - shape.min(axis=0)
    scale = min(width_fraction * width / span[0], 0.94 * width / span[0], 0.94 * height / span[1])
    quad = shape * scale
    room = (np.array([width, height]) * 0.97 - span * scale) / 2
    centre = np.array([width, height]) / 2 + np.clip(np.array(offset), -1, 1) * np.maximum(room, 0)
    return np.asarray(quad - (quad.max(axis=0) + quad.min(axis=0)) / 2 + centre)


def homography(source: Quad, target: Quad) -> np.ndarray:
    """The 3x3 matrix mapping the four ``source`` points onto ``target``."""
    rows = []
    for (x, y), (u, v) in zip(source, target, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    solution = np.linalg.solve(np.array(rows, float), np.asarray(target, float).reshape(8))
    return np.append(solution, 1.0).reshape(3, 3)


def apply_homography(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    homogeneous = np.c_[points, np.ones(len(points))] @ matrix.T
    return np.asarray(homogeneous[:, :2] / homogeneous[:, 2:3])


def warp_onto(frame: Image.Image, card: Image.Image, quad: Quad) -> None:
    """Paint the RGBA ``card`` onto ``frame`` so its corners land on ``quad``."""
    left, top = np.floor(quad.min(axis=0)).astype(int)
    right, bottom = np.ceil(quad.max(axis=0)).astype(int)
    corners = np.array([[0, 0], [card.width, 0], [card.width, card.height], [0, card.height]], float)
    # Pillow's PERSPECTIVE wants the map from output pixels back to card pixels.
    inverse = homography(quad - np.array([left, top]), corners)
    coefficients = tuple((inverse / inverse[2, 2]).reshape(9)[:8])
    patch = card.transform((right - left, bottom - top), Image.Transform.PERSPECTIVE, coefficients,
                           Image.Resampling.BICUBIC)
    frame.paste(patch, (int(left), int(top)), patch)


def table_texture(rng: np.random.Generator, frame: tuple[int, int]) -> Image.Image:
    """A wood-grain, fabric or plain desk surface filling ``frame``."""
    width, height = frame
    small_w, small_h = max(8, width // _COARSE), max(8, height // _COARSE)
    ys, xs = np.mgrid[0:small_h, 0:small_w].astype(np.float32) / small_w
    kind = int(rng.integers(3))
    if kind == 0:  # wood: wavy stripes along a random direction
        angle = rng.uniform(0, math.pi)
        along = xs * math.cos(angle) + ys * math.sin(angle)
        grain = np.sin(along * rng.uniform(90, 200) + 4 * np.sin(along * 7 + rng.uniform(0, 6)))
        value = 0.5 + 0.1 * grain + 0.1 * rng.standard_normal(grain.shape)
    elif kind == 1:  # fabric or stone: speckle
        value = 0.5 + 0.2 * rng.standard_normal(xs.shape)
    else:  # plain desk: a soft gradient
        value = 0.5 + 0.3 * (xs - 0.5) * rng.uniform(-1, 1) + 0.02 * rng.standard_normal(xs.shape)
    colour = rng.uniform(40, 200, 3) * np.array([1.0, 0.9, 0.8])
    rgb = np.clip(value[..., None] * colour * 1.6, 0, 255).astype(np.uint8)
    return Image.fromarray(rgb, "RGB").resize(frame, Image.Resampling.BILINEAR)


def drop_shadow(frame: Image.Image, quad: Quad, strength: float) -> None:
    """Darken the table under and beside the card, as a soft shadow."""
    width, height = frame.size
    mask = Image.new("L", (width // _COARSE, height // _COARSE), 0)
    shifted = (quad + np.array([width * 0.006, height * 0.01])) / _COARSE
    ImageDraw.Draw(mask).polygon([tuple(point) for point in shifted], fill=round(255 * strength))
    mask = mask.filter(ImageFilter.GaussianBlur(3)).resize(frame.size, Image.Resampling.BILINEAR)
    frame.paste((0, 0, 0), (0, 0), mask)


def light_field(rng: np.random.Generator, frame: tuple[int, int], gain: float) -> Image.Image:
    """A smooth multiplier image (255 = unchanged): uneven light and lens vignetting."""
    small_w, small_h = 64, 48
    ys, xs = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    xs, ys = xs / (small_w - 1) - 0.5, ys / (small_h - 1) - 0.5
    slope = rng.uniform(-0.25, 0.25, 2)
    field = gain * (1 + slope[0] * xs + slope[1] * ys) * (1 - 0.35 * (xs**2 + ys**2))
    grey = Image.fromarray(np.clip(field * 255, 0, 255).astype(np.uint8), "L")
    return grey.resize(frame, Image.Resampling.BILINEAR)


def glare_mask(
    frame: tuple[int, int], centre: np.ndarray, radius: float, squash: float, angle: float
) -> Image.Image:
    """A specular highlight: a saturated elliptical core fading out (255 = pure white)."""
    width, height = frame
    small_w, small_h = width // _COARSE, height // _COARSE
    ys, xs = np.mgrid[0:small_h, 0:small_w].astype(np.float32) * _COARSE
    dx, dy = xs - centre[0], ys - centre[1]
    along = dx * math.cos(angle) + dy * math.sin(angle)
    across = (-dx * math.sin(angle) + dy * math.cos(angle)) / squash
    falloff = np.exp(-(along**2 + across**2) / (2 * radius**2))
    strength = np.clip(1.4 * falloff, 0, 1)
    small = Image.fromarray((strength * 255).astype(np.uint8), "L")
    return small.resize(frame, Image.Resampling.BILINEAR)
