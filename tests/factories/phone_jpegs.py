"""JPEGs as a phone writes them, carrying what must never reach the image store: EXIF with the GPS position, the
camera's maker and serial, XMP, an ICC profile, a comment, and bytes after the end of the image (Samsung's trailer,
MPF's second images). Noisy pictures, so the compressed data holds many 0xFF bytes, as real photos do. Made in
memory; nothing describes a real person."""

from __future__ import annotations

import io
from functools import cache

from PIL import Image, ImageCms, ImageDraw

GPS_IFD = 0x8825
ORIENTATION = 0x0112
# Every piece of metadata the factory writes carries one of these; none may be left in a stored copy.
SECRETS = (b"PhoneMaker", b"SERIAL-0042", b"xmp-secret", b"a private comment", b"SEFT-trailer")
TRAILER = b"SEFH\x00\x00SEFT-trailer"


@cache
def picture(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    noise = Image.effect_noise((size[0] // 4, size[1] // 4), 60).resize(size)
    image = Image.merge("RGB", (noise, noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise.rotate(180)))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0] // 3, size[1]), fill=(20, 30, 40))  # a dark left third: turns are visible
    draw.ellipse((size[0] // 2, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4), fill=(200, 150, 90))
    return image.convert(mode)


@cache
def phone_jpeg(size: tuple[int, int] = (1600, 1200), *, progressive: bool = False, orientation: int = 1,
               restart: bool = False, mode: str = "RGB", quality: int = 90, trailer: bool = True) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0xA431] = "SERIAL-0042"  # BodySerialNumber
    exif[ORIENTATION] = orientation
    exif[GPS_IFD] = {1: "N", 2: (19.0, 25.0, 57.0), 3: "W", 4: (99.0, 7.0, 39.0)}
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    options: dict[str, object] = {"restart_marker_blocks": 4} if restart else {}
    out = io.BytesIO()
    picture(size, mode).save(out, "JPEG", quality=quality, progressive=progressive, exif=exif, icc_profile=icc,
                             comment=b"a private comment", xmp=b"<x:xmpmeta>xmp-secret</x:xmpmeta>", **options)
    return out.getvalue() + (TRAILER if trailer else b"")


def pixels(data: bytes) -> bytes:
    """The decoded pixels as Pillow gives them (no orientation applied)."""
    with Image.open(io.BytesIO(data)) as image:
        return image.tobytes()


# Encoder choices a phone may make, by name: each test of the JPEG code runs over all of them.
VARIANTS: dict[str, dict[str, object]] = {
    "baseline": {},
    "progressive": {"progressive": True},
    "restart markers": {"restart": True},
    "grey": {"mode": "L"},
    "odd size": {"size": (1001, 757), "progressive": True},
}
