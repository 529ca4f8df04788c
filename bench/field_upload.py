"""Benchmark: what the field queue's on-device resize (long side <= 2000 px, JPEG quality 0.85) costs and saves,
measured side by side on the same simulated 12 MP phone photos of credential backs.

    python bench/field_upload.py [--per-condition N] [--seed S]

For each photo: bytes to upload and the server's own decode (capture.pipeline.read_back: reads the right CIC,
and milliseconds) on the original and on the resized copy. The phone resizes with a canvas; here Pillow's
Lanczos stands in for it (same target size and quality). Prints per condition and the totals with ratios.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {0})

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageOps

from capture.pipeline import read_back
from capture.specimens import Condition, corpus

LONG_SIDE = 2000
QUALITY = 85
CONDITIONS = (Condition.NOMINAL, Condition.PERSPECTIVE, Condition.LOW_LIGHT, Condition.BLUR, Condition.GLARE)


def resized(data: bytes) -> bytes:
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    image.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=QUALITY)
    return buffer.getvalue()


def decode(data: bytes, cic: str, today: date) -> tuple[bool, float]:
    started = time.perf_counter()
    reading = read_back(data, today=today)
    elapsed = (time.perf_counter() - started) * 1000
    return bool(reading.fields and reading.fields.cic == cic), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-condition", type=int, default=4)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    today = date(2026, 11, 1)
    rows: dict[str, list[tuple[int, int, bool, bool, float, float]]] = defaultdict(list)
    for sample in corpus(args.seed, args.per_condition, models=("H",), conditions=CONDITIONS):
        small = resized(sample.data)
        ok_full, ms_full = decode(sample.data, sample.identity.cic, today)
        ok_small, ms_small = decode(small, sample.identity.cic, today)
        rows[sample.condition.value].append((len(sample.data), len(small), ok_full, ok_small, ms_full, ms_small))
    print(f"{'condition':<12} {'n':>3} {'MB orig':>8} {'MB 2000px':>9} {'bytes ratio':>11} "
          f"{'read orig':>9} {'read 2000':>9} {'ms orig':>8} {'ms 2000':>8}")
    everything = [row for group in rows.values() for row in group]
    for name, group in [*rows.items(), ("all", everything)]:
        full, small = sum(r[0] for r in group), sum(r[1] for r in group)
        print(f"{name:<12} {len(group):>3} {full / 1e6:>8.2f} {small / 1e6:>9.2f} {small / full:>11.2f} "
              f"{sum(r[2] for r in group):>9} {sum(r[3] for r in group):>9} "
              f"{statistics.median(r[4] for r in group):>8.0f} {statistics.median(r[5] for r in group):>8.0f}")


if __name__ == "__main__":
    main()
