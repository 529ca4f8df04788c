"""photo-shrink.js's `shrink`, run in Chromium on the app's own page: a big photo comes back upright (its EXIF
orientation applied), with its long side at 2000 px, as a JPEG without any metadata (no GPS position of where it
was taken, even when the photo was already small); the signature pad's small PNG goes as it is; a file the browser
cannot decode is left for the server to judge."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image, ImageDraw

from tests.factories.photos import signature_png

pytestmark = pytest.mark.browser

SHRINK = """async ([data, type]) => {
  const { shrink } = await import('/static/js/photo-shrink.js');
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const out = await shrink(new File([bytes], 'IMG_20261130_Juan_Perez.jpg', { type }));
  const buffer = new Uint8Array(await out.arrayBuffer());
  let text = '';
  for (const byte of buffer) text += String.fromCharCode(byte);
  return { type: out.type, data: btoa(text) };
}"""
GPS_IFD = 0x8825
ORIENTATION = 0x0112


def _photo_with_gps(size: tuple[int, int], orientation: int = 1) -> bytes:
    image = Image.new("RGB", size, (200, 190, 170))
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 4, size[1] // 4), fill=(20, 20, 160))  # marks the top left
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (19.0, 25.0, 59.0)
    gps[3], gps[4] = "W", (99.0, 7.0, 58.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def _shrink(page: Any, data: bytes, content_type: str = "image/jpeg") -> tuple[str, bytes]:
    answer = page.evaluate(SHRINK, [base64.b64encode(data).decode(), content_type])
    return answer["type"], base64.b64decode(answer["data"])


@pytest.fixture
def app_page(page: Any, live_server: Any) -> Any:
    page.goto(live_server.path("/ayuda"))
    return page


def test_a_big_photo_comes_back_upright_at_2000_px_without_metadata(app_page: Any) -> None:
    original = _photo_with_gps((3000, 2000), orientation=6)  # taken with the phone turned: shown 2000 x 3000
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)
    kind, data = _shrink(app_page, original)
    shrunk = Image.open(io.BytesIO(data))
    assert kind == "image/jpeg" and shrunk.format == "JPEG"
    assert shrunk.size == (1333, 2000)
    assert dict(shrunk.getexif()) == {} and "exif" not in shrunk.info
    top_right = shrunk.convert("RGB").getpixel((1300, 30))  # turned a quarter clockwise: the mark is now there
    assert isinstance(top_right, tuple) and top_right[2] > 120 and top_right[0] < 80


def test_a_small_photo_is_drawn_again_so_its_location_stays_on_the_phone(app_page: Any) -> None:
    kind, data = _shrink(app_page, _photo_with_gps((800, 600)))
    shrunk = Image.open(io.BytesIO(data))
    assert kind == "image/jpeg" and shrunk.size == (800, 600)
    assert dict(shrunk.getexif()) == {} and "exif" not in shrunk.info


def test_the_signature_pads_png_goes_as_it_is(app_page: Any) -> None:
    drawing = signature_png()
    assert _shrink(app_page, drawing, "image/png") == ("image/png", drawing)


def test_a_file_the_browser_cannot_read_is_left_to_the_server(app_page: Any) -> None:
    not_a_photo = b"%PDF-1.4 not a photo"
    assert _shrink(app_page, not_a_photo) == ("image/jpeg", not_a_photo)
