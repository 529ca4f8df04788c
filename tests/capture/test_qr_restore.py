"""Deconvolution of the QR's square: a shaken photo whose QR reads only once restored."""

import random

import numpy as np
import pytest

from capture import budget
from capture.deblur import estimate_shake
from capture.intake import WorkingImage, load_image
from capture.qr import Region, read_qr, read_qr_region
from capture.qr_restore import read_restored_region
from capture.specimens import SpecimenIdentity, random_identity, render_back
from capture.specimens.card import CARD_HEIGHT_MM, CARD_WIDTH_MM, SMALL_QR_BOX
from capture.specimens.photo import PHONE_FRAME, Shot, render_shot
from capture.specimens.scene import Pose, apply_homography, fit_in_frame, homography, projected_corners


def shaken_shot(motion_mm: float, angle: float) -> Shot:
    return Shot(frame=PHONE_FRAME, width_fraction=0.7, offset=(0.0, 0.0), pose=Pose(3.0, 0.0, 0.0), blur_mm=0.03,
                motion_mm=motion_mm, motion_angle=angle, gain=0.95, noise=2.0, shadow=0.3, jpeg_quality=90)


def qr_region(shot: Shot) -> Region:
    """Where the small QR is on the photo, from the generator's geometry (the pipeline gets it
    from the MRZ's place): twice the QR's side, turned with the card."""
    quad = fit_in_frame(projected_corners(CARD_HEIGHT_MM / CARD_WIDTH_MM, shot.pose), shot.frame,
                        shot.width_fraction, shot.offset)
    corners = np.array([[0, 0], [CARD_WIDTH_MM, 0], [CARD_WIDTH_MM, CARD_HEIGHT_MM], [0, CARD_HEIGHT_MM]], float)
    box = SMALL_QR_BOX
    centre = apply_homography(homography(corners, quad), np.array([[box.x + box.width / 2, box.y + box.height / 2]]))
    px_per_mm = float(np.linalg.norm(quad[1] - quad[0])) / CARD_WIDTH_MM
    return Region(float(centre[0][0]), float(centre[0][1]), 2 * box.width * px_per_mm, shot.pose.roll)


@pytest.fixture(scope="module", params=[(2.4, 35.0), (3.0, 57.0)], ids=["2.4mm", "3mm"])
def shaken(request: pytest.FixtureRequest) -> tuple[bytes, Shot, SpecimenIdentity]:
    motion_mm, angle = request.param
    identity = random_identity(random.Random(5), "E")
    shot = shaken_shot(motion_mm, angle)
    return render_shot(render_back(identity, px_per_mm=16), shot, np.random.default_rng(5)), shot, identity


def test_shaken_qr_reads_only_after_deconvolution(shaken: tuple[bytes, Shot, SpecimenIdentity]) -> None:
    data, shot, identity = shaken
    working = load_image(data, long_side=1600)
    region = qr_region(shot)
    # As taken: neither the whole photo (every escalation) nor the QR's square sharpened every way.
    assert read_qr(working, deadline=budget.now() + 5, load_full=lambda: load_image(data)).url is None
    assert read_qr_region(working, region, deadline=budget.now() + 5).url is None
    restored = read_restored_region(working, region, deadline=budget.now() + 10)
    assert restored.url is not None and restored.url.text == identity.qr_url


def test_the_shake_is_measured_on_the_photo(shaken: tuple[bytes, Shot, SpecimenIdentity]) -> None:
    data, shot, _ = shaken
    working = load_image(data, long_side=1600)
    shake = estimate_shake(working.image)
    assert shake is not None
    px_per_mm = float(np.linalg.norm(np.diff(fit_in_frame(projected_corners(CARD_HEIGHT_MM / CARD_WIDTH_MM, shot.pose),
                                                          shot.frame, shot.width_fraction, shot.offset)[:2],
                                             axis=0))) / CARD_WIDTH_MM
    assert abs(shake.length - shot.motion_mm * px_per_mm * working.scale) <= 3
    # The smear turns with the card: its direction on the photo is the motion's plus the card's roll.
    assert abs((shake.angle - (shot.motion_angle + shot.pose.roll) + 90) % 180 - 90) <= 4


def test_no_restoration_starts_after_the_deadline(shaken: tuple[bytes, Shot, SpecimenIdentity]) -> None:
    data, shot, _ = shaken
    working = load_image(data, long_side=1600)
    reading = read_restored_region(working, qr_region(shot), deadline=budget.now() - 1)
    assert reading.url is None and reading.symbols == ()


def test_a_region_off_the_photo_reads_nothing() -> None:
    blank = WorkingImage(image=load_image(_png()).image, scale=1.0, full_size=(400, 300), format="PNG")
    assert read_restored_region(blank, Region(-500.0, -500.0, 100.0, 0.0), deadline=budget.now() + 5).url is None


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (400, 300), 128).save(out, "PNG")
    return out.getvalue()
