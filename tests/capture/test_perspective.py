"""Perspective correction: a steeply tilted card whose QR reads only once the card is warped flat."""

import random

import numpy as np
import pytest

from capture import budget
from capture.intake import WorkingImage, load_image
from capture.perspective import FORESHORTENED_RATIO, card_outline, foreshortening, read_qr_flat
from capture.pipeline import read_back
from capture.qr import read_qr
from capture.specimens import SpecimenIdentity, random_identity, render_back
from capture.specimens.card import CARD_HEIGHT_MM, CARD_WIDTH_MM, SMALL_QR_BOX
from capture.specimens.photo import PHONE_FRAME, Shot, render_shot
from capture.specimens.scene import Pose, apply_homography, fit_in_frame, homography, projected_corners

STEEP = Pose(roll=-3.0, pitch=-44.0, yaw=-32.0)


def shot(pose: Pose) -> Shot:
    return Shot(frame=PHONE_FRAME, width_fraction=0.65, offset=(0.0, 0.0), pose=pose, blur_mm=0.04, motion_mm=0.0,
                motion_angle=0.0, gain=0.9, noise=2.5, shadow=0.35, jpeg_quality=86)


def card_quad(photo: Shot) -> np.ndarray:
    """Where the card's corners fall on the photo (the generator's own geometry)."""
    shape = projected_corners(CARD_HEIGHT_MM / CARD_WIDTH_MM, photo.pose)
    return fit_in_frame(shape, photo.frame, photo.width_fraction, photo.offset)


@pytest.fixture(scope="module", params=["E", "H"])
def steep(request: pytest.FixtureRequest) -> tuple[bytes, SpecimenIdentity]:
    identity = random_identity(random.Random(1), request.param)
    card = render_back(identity, px_per_mm=16)
    return render_shot(card, shot(STEEP), np.random.default_rng(1)), identity


def loaders(data: bytes) -> tuple[WorkingImage, WorkingImage]:
    return load_image(data, long_side=1600), load_image(data)


def test_steep_card_reads_only_once_warped_flat(steep: tuple[bytes, SpecimenIdentity]) -> None:
    data, identity = steep
    working, full = loaders(data)
    as_taken = read_qr(working, deadline=budget.now() + 5, load_full=lambda: full)
    assert as_taken.url is None  # every escalation of the plain reader, given all the time it wants
    flat = read_qr_flat(working, lambda: full, deadline=budget.now() + 5)
    assert flat is not None and flat.url is not None
    assert flat.url.text == identity.qr_url


def test_the_flat_reading_places_the_qr_where_it_is_on_the_photo(steep: tuple[bytes, SpecimenIdentity]) -> None:
    data, _ = steep
    working, full = loaders(data)
    flat = read_qr_flat(working, lambda: full, deadline=budget.now() + 5)
    assert flat is not None
    found = next(s for s in flat.symbols if s.url is not None)
    to_photo = homography(np.array([[0, 0], [CARD_WIDTH_MM, 0], [CARD_WIDTH_MM, CARD_HEIGHT_MM], [0, CARD_HEIGHT_MM]],
                                   float), card_quad(shot(STEEP)))
    box = SMALL_QR_BOX
    truth = apply_homography(to_photo, np.array([[box.x + box.width / 2, box.y + box.height / 2]]))[0]
    centre = np.mean([[p.x, p.y] for p in found.position.points], axis=0)
    assert np.linalg.norm(centre - truth) < 0.2 * box.width * PHONE_FRAME[0] * 0.65 / CARD_WIDTH_MM


def test_the_outline_is_the_card(steep: tuple[bytes, SpecimenIdentity]) -> None:
    data, _ = steep
    working = load_image(data, long_side=1600)
    outline = card_outline(working.image)
    assert outline is not None
    truth = card_quad(shot(STEEP)) * working.scale
    # Same corners, whichever the outline starts from (which way up is the readers' business).
    nearest = [float(np.min(np.linalg.norm(truth - corner, axis=1))) for corner in outline]
    assert max(nearest) < 0.04 * float(np.ptp(truth[:, 0]))
    assert foreshortening(outline) >= FORESHORTENED_RATIO


def test_a_card_seen_square_on_is_left_alone() -> None:
    identity = random_identity(random.Random(2), "E")
    data = render_shot(render_back(identity, px_per_mm=16), shot(Pose(2.0, 3.0, -3.0)), np.random.default_rng(2))
    working, full = loaders(data)
    assert read_qr_flat(working, lambda: full, deadline=budget.now() + 5) is None


def test_a_photo_without_a_card_outline_is_left_alone() -> None:
    flat_grey = WorkingImage(image=load_image(_grey_png()).image, scale=1.0, full_size=(800, 600), format="PNG")
    assert card_outline(flat_grey.image) is None
    assert read_qr_flat(flat_grey, None, deadline=budget.now() + 5) is None


def test_the_whole_reading_gets_the_steep_cards_qr_and_still_its_mrz(steep: tuple[bytes, SpecimenIdentity]) -> None:
    data, identity = steep
    reading = read_back(data, budget_ms=30_000)  # generous: the test must not depend on machine speed
    assert reading.url is not None and reading.url.text == identity.qr_url
    # The flat card's QR corners, mapped back through the tilt, must not lead the MRZ search astray.
    assert reading.fields is not None and reading.fields.cic == identity.cic


def _grey_png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(3).normal(120, 20, (600, 800)).clip(0, 255).astype(np.uint8)).save(out, "PNG")
    return out.getvalue()
