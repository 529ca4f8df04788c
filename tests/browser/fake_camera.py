"""A fake rear camera for Chromium: a .y4m video, made at test time, of a synthetic credential back
(capture.specimens) that comes into the frame blurred and drifting, then holds still and sharp. Chromium plays it
in a loop as the camera (`--use-file-for-fake-video-capture`), so a page can scan it as a phone would."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from capture.specimens import SpecimenIdentity, random_identity, render_back
from capture.specimens.card import SMALL_QR_BOX

WIDTH, HEIGHT = 1280, 720
FPS = 10
BLURRED = (9.0, 7.0, 5.0, 4.0, 3.0, 2.2, 1.6, 1.2)  # Gaussian radius per frame while the card comes into focus
SHARP_FRAMES = 16
PX_PER_MM = 12.0  # the card ≈ 1030 px wide: inside the page's guide frame (84 % of 1280 px)
BACKGROUND = (92, 88, 84)
EXPOSURE = (20, 0.84)  # a camera's levels: the card's white QR paper at ≈ 234, not clipped as a reflection is


def fake_camera_args(video: Path) -> list[str]:
    return ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]


def scan_identity(seed: int) -> SpecimenIdentity:
    return random_identity(random.Random(f"live-scan:{seed}"), "H")


def _frame(card: Image.Image, blur: float, shift: int, glare: bool) -> Image.Image:
    scene = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    origin = ((WIDTH - card.width) // 2 + shift, (HEIGHT - card.height) // 2)
    scene.paste(card, origin, card)
    scene = scene.point(lambda value: round(EXPOSURE[0] + value * EXPOSURE[1]))
    if glare:  # a lamp's reflection: clipped white over the small QR, which can then never be read
        left, top, right, bottom = SMALL_QR_BOX.pixels(PX_PER_MM)
        box = (origin[0] + left - 220, origin[1] + top - 60, origin[0] + right + 40, origin[1] + bottom + 140)
        ImageDraw.Draw(scene).ellipse(box, fill=(255, 255, 255))
    return scene.filter(ImageFilter.GaussianBlur(blur)) if blur else scene


def _y4m_frame(image: Image.Image) -> bytes:
    """PIL's YCbCr is full range; Chromium reads a .y4m as video (limited) range, so levels are squeezed to
    16-235 (16-240 for colour) or the frame would play with its contrast stretched."""
    luma, blue, red = image.convert("YCbCr").split()
    half = (WIDTH // 2, HEIGHT // 2)
    luma = luma.point(lambda value: 16 + value * 219 // 255)
    blue, red = (plane.resize(half, Image.Resampling.BOX).point(lambda value: 16 + value * 224 // 255)
                 for plane in (blue, red))
    return b"FRAME\n" + luma.tobytes() + blue.tobytes() + red.tobytes()


def write_card_video(identity: SpecimenIdentity, path: Path, *, glare: bool = False) -> Path:
    """About 2.4 s at 10 fps (≈ 33 MB of raw 4:2:0 frames): 8 blurred frames moving in, 16 still and sharp.
    `glare`: a reflection hides the small QR in every frame."""
    card = render_back(identity, px_per_mm=PX_PER_MM)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for n, blur in enumerate(BLURRED):
            out.write(_y4m_frame(_frame(card, blur, shift=(len(BLURRED) - n) * 12, glare=glare)))
        out.write(_y4m_frame(_frame(card, 0.0, shift=0, glare=glare)) * SHARP_FRAMES)
    return path
