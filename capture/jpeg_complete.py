"""Whether a JPEG kept as sent (capture/jpeg_strip.py) holds its whole image, without decoding its pixels.

A photo cut off in transit and closed again (a proxy or a phone that appends the end-of-image marker, a file whose
tail is zeros) still opens in every viewer, with the bottom of the picture grey or smeared: as evidence it is
worthless, and the citizen is better told at once to send it again than to see the support refused later at the
mesa de control. Two checks, both cheaper than the scaled decode they replace (which let all of those through,
since libjpeg only warns about them):

- the scan headers cover the whole image: every component in a sequential scan; in a progressive JPEG every
  coefficient (0-63) of every component down to its last refinement bit (Al = 0), so a file cut at a scan boundary
  is caught too;
- libjpeg-turbo (simplejpeg) reads every Huffman-coded block at 1/8 scale in grey, strict: its warnings, which
  Pillow ignores, are raised. "Premature end" (data ran out before the last block) means cut off.

Any other warning or error (bad Huffman code, extraneous bytes) is `DAMAGED`: the caller decodes the file in full
and judges it as it judges every upload that is not a plain JPEG, so a phone's harmless quirk never refuses a
citizen's photo here."""

from __future__ import annotations

from enum import Enum

import simplejpeg

from capture.jpeg_strip import StrippedJpeg

_COEFFICIENTS = range(64)
_CUT_OFF_WARNING = "premature end"  # libjpeg's JWRN_HIT_MARKER and JWRN_JPEG_EOF


class Completeness(Enum):
    COMPLETE = "complete"
    CUT_OFF = "cut_off"
    DAMAGED = "damaged"


def completeness(jpeg: StrippedJpeg) -> Completeness:
    """COMPLETE, CUT_OFF (refuse: send it again) or DAMAGED (decode in full and judge the pixels)."""
    if not scans_cover_image(jpeg):
        return Completeness.CUT_OFF
    try:
        simplejpeg.decode_jpeg(jpeg.data, colorspace="GRAY", min_height=1, min_width=1, strict=True)
    except ValueError as error:
        return Completeness.CUT_OFF if _CUT_OFF_WARNING in str(error).lower() else Completeness.DAMAGED
    except Exception:  # a hostile stream may fail in other ways; the full decode judges it
        return Completeness.DAMAGED
    return Completeness.COMPLETE


def scans_cover_image(jpeg: StrippedJpeg) -> bool:
    """Whether the scan headers, together, carry every component (and in a progressive JPEG every coefficient at
    full precision) of the frame."""
    if not jpeg.ids or not jpeg.scans:
        return False
    if not jpeg.progressive:
        return {component for scan in jpeg.scans for component in scan.ids} >= set(jpeg.ids)
    finest = {(component, k): 99 for component in jpeg.ids for k in _COEFFICIENTS}  # least Al seen so far
    for scan in jpeg.scans:
        for component in scan.ids:
            for k in range(scan.start, min(scan.end, 63) + 1):
                if (component, k) in finest:
                    finest[(component, k)] = min(finest[(component, k)], scan.low)
    return all(low == 0 for low in finest.values())
