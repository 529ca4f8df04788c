"""Where the QR stage saw the card, as a hint for the MRZ search: anchors and the text's likely angles."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from capture.result import Quad, Symbol, SymbolKind

RE_AIM_DEGREES: Final = 4.0  # a line tilted more than this from the search's angle is searched again, levelled


@dataclass(frozen=True)
class CardHint:
    """Where the QR stage saw the card: QR positions and likely text directions (degrees,
    image y pointing down), most likely first."""

    anchors: tuple[Quad, ...] = ()
    text_angles: tuple[float, ...] = (0.0, 90.0)
    # True when the first angle is known to the half turn (from the small QR), so text found
    # at that angle is upright and the orientation classifier need not be asked.
    upright: bool = False
    # True when the first anchor is the small URL QR, which places the MRZ (capture.mrz_band).
    placed: bool = False


def card_hint(symbols: tuple[Symbol, ...], *, g_or_h_layout: bool) -> CardHint:
    """The small QR's edges give the card's rotation.

    It is printed upright on models D-F and turned a quarter on G/H: on INE's G/H specimen
    its top edge points down the card, so the MRZ runs 90 degrees anticlockwise from it.
    Which layout a photo shows is not always known (the large QRs may go unseen), so both
    directions are tried, the likelier first; only the upright D-F case fixes the half turn.
    Other decoded symbols give the angle modulo 90 degrees only, and the photo's own axes
    are tried after them. Unreadable symbols are not trusted: their corners may be noise.
    """
    url_qr = next((s for s in symbols if s.kind == SymbolKind.INE_URL_QR), None)
    if url_qr is not None:
        angle = _top_edge_angle(url_qr.position)
        if g_or_h_layout:
            return CardHint(anchors=(url_qr.position,), text_angles=(angle - 90, angle), placed=True)
        return CardHint(anchors=(url_qr.position,), text_angles=(angle, angle - 90), upright=True, placed=True)
    decoded = next((s for s in symbols if s.kind != SymbolKind.UNREADABLE_QR), None)
    if decoded is None:
        return CardHint()
    angle = (_top_edge_angle(decoded.position) + 45) % 90 - 45
    angles = (angle, angle + 90) if abs(angle) < RE_AIM_DEGREES else (angle, angle + 90, 0.0, 90.0)
    anchors = (decoded.position,) if decoded.kind != SymbolKind.CODE128 else ()
    return CardHint(anchors=anchors, text_angles=angles)


def _top_edge_angle(quad: Quad) -> float:
    return math.degrees(math.atan2(quad.top_right.y - quad.top_left.y, quad.top_right.x - quad.top_left.x))
