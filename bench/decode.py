"""Benchmark: our capture pipeline against plain decoders, on one synthetic corpus, side by side.

    python bench/decode.py [--per-condition N] [--seed S[,S...]] [--models E,H] [--generator ours|other]
    python bench/decode.py --files PHOTO.jpg ...     (real photos: reads and timings, no truth)

Methods, each given the photo's JPEG bytes and timed (CPU) from bytes to answer (image decoding
included), one after the other on the same sample, pinned to one CPU core:
  ours    capture.summary.decode_summary
  zxing   zxingcpp.read_barcodes(QRCode) on the full photo
  pyzbar  pyzbar's QR reader on the full photo (greyscale)
  ocr     plain RapidOCR (its defaults) on the whole photo at full resolution, then MRZ line 1
          parsed with its check digit: the baseline issue 15 sets
  ocr1600 the same on the photo scaled to 1600 px (faster, and reads fewer distant cards)

--generator other draws the photos with bench/other_generator.py instead of capture.specimens:
INE's public specimen back with fresh check-digit-valid MRZs and small QRs, its own warp,
blur, noise and JPEG (no scene code shared with the corpus).

A QR success is the small URL read exactly; an MRZ success is the right CIC with a valid
check digit. WRONG counts any value returned that differs from the truth (must be 0 for ours).
"ours ok" is the pipeline's own verdict, which also rejects expired credentials.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

# Pin before onnxruntime or any thread pool starts: timings must be single-core to compare (run as a script
# only: the tests import the scoring functions and must not be pinned).
if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import zxingcpp
from PIL import Image, ImageOps

from capture.identifiers import icao_check_digit
from capture.specimens.corpus import corpus
from capture.specimens.photo import Condition

OCR_LONG_SIDE = 1600
_LINE1 = re.compile(r"IDMEX(\d{9})(\d)")


@dataclass(frozen=True)
class Reading:
    """What one method returned for one photo; None where it gave nothing."""

    qr_url: str | None = None
    cic: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    ms: float = 0.0


Method = Callable[[bytes], Reading]


def open_upright(data: bytes) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(io.BytesIO(data)))


def first_url(texts: Iterable[str]) -> str | None:
    return next((text for text in texts if text.lower().startswith("http")), None)


def read_ours(data: bytes) -> Reading:
    from capture.summary import decode_summary

    summary = decode_summary(data)
    return Reading(qr_url=summary.get("qr_url"), cic=summary.get("cic"), extra=dict(summary))


def read_zxing(data: bytes) -> Reading:
    codes = zxingcpp.read_barcodes(open_upright(data), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    return Reading(qr_url=first_url(code.text for code in codes))


def read_pyzbar(data: bytes) -> Reading:
    from pyzbar.pyzbar import ZBarSymbol, decode

    codes = decode(open_upright(data).convert("L"), symbols=[ZBarSymbol.QRCODE])
    return Reading(qr_url=first_url(code.data.decode("latin-1") for code in codes))


class PlainOcr:
    """RapidOCR with one thread on the whole photo (at full resolution unless `long_side` is given);
    MRZ line 1 found by a plain regex."""

    def __init__(self, long_side: int | None = None) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self.engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
        self.long_side = long_side

    def __call__(self, data: bytes) -> Reading:
        image = open_upright(data).convert("RGB")
        if self.long_side is not None:
            image.thumbnail((self.long_side, self.long_side), Image.Resampling.BILINEAR)
        result, _ = self.engine(np.asarray(image))
        texts = [str(item[1]) for item in result or []]
        return Reading(cic=cic_from_texts(texts))


def cic_from_texts(texts: Sequence[str]) -> str | None:
    """The first CIC in an ``IDMEX...`` line whose check digit holds."""
    for text in texts:
        for match in _LINE1.finditer(text.upper().replace(" ", "")):
            if icao_check_digit(match.group(1)) == match.group(2):
                return match.group(1)
    return None


def timed(method: Method, data: bytes) -> Reading:
    # CPU, not wall: the machine is shared and the targets are CPU per photo (one thread, one core).
    start = time.process_time()
    try:
        reading = method(data)
    except Exception as error:  # a crashing baseline is a failed read, not a crashed benchmark
        reading = Reading(extra={"error": f"{type(error).__name__}: {error}"})
    elapsed = (time.process_time() - start) * 1000
    return Reading(reading.qr_url, reading.cic, reading.extra, elapsed)


def build_methods(names: Sequence[str]) -> dict[str, Method]:
    available: dict[str, Callable[[], Method]] = {
        "ours": lambda: read_ours,
        "zxing": lambda: read_zxing,
        "pyzbar": lambda: read_pyzbar,
        "ocr": PlainOcr,
        "ocr1600": lambda: PlainOcr(OCR_LONG_SIDE),
    }
    return {name: available[name]() for name in names}


# ---- scoring against the truth -------------------------------------------------------------


@dataclass
class Tally:
    qr_ok: int = 0
    mrz_ok: int = 0
    ok_flag: int = 0
    wrong: int = 0
    ms: list[float] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)


class Truth(Protocol):
    """What a photo shows: `capture.specimens`' identities and the other generator's both have it."""

    @property
    def qr_url(self) -> str: ...
    @property
    def cic(self) -> str: ...
    @property
    def identificador_ciudadano(self) -> str | None: ...
    @property
    def ocr(self) -> str | None: ...
    @property
    def expiry_year(self) -> int: ...


class Photo(Protocol):
    @property
    def data(self) -> bytes: ...
    @property
    def identity(self) -> Truth: ...
    @property
    def condition(self) -> StrEnum: ...
    @property
    def name(self) -> str: ...


def expected_expiry(identity: Truth) -> date:
    return date(identity.expiry_year, 12, 31)


def as_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def wrong_fields(reading: Reading, identity: Truth) -> list[str]:
    """Fields returned with a value different from the truth."""
    truth: dict[str, object] = {
        "qr_url": identity.qr_url,
        "cic": identity.cic,
        "identificador_ciudadano": identity.identificador_ciudadano,
        "ocr": identity.ocr,
    }
    returned: dict[str, object] = {"qr_url": reading.qr_url, "cic": reading.cic}
    returned.update({key: reading.extra.get(key) for key in ("identificador_ciudadano", "ocr")})
    wrong = [key for key, value in returned.items() if value is not None and value != truth[key]]
    expiry = reading.extra.get("expiry")
    if expiry is not None and as_date(expiry) != expected_expiry(identity):
        wrong.append("expiry")
    return wrong


def score(tally: Tally, reading: Reading, identity: Truth) -> None:
    tally.qr_ok += reading.qr_url == identity.qr_url
    tally.mrz_ok += reading.cic == identity.cic
    tally.ok_flag += bool(reading.extra.get("ok"))
    tally.wrong += bool(wrong_fields(reading, identity))
    tally.ms.append(reading.ms)
    if reading.extra.get("reason"):
        tally.reasons[str(reading.extra["reason"])] += 1


# ---- running and printing ------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def warm_up(methods: dict[str, Method], data: bytes) -> None:
    for method in methods.values():
        timed(method, data)


def run_corpus(samples: Sequence[Photo], methods: dict[str, Method]) -> dict[str, dict[str, Tally]]:
    tallies: dict[str, dict[str, Tally]] = {}
    for sample in samples:
        per_method = tallies.setdefault(sample.condition.value, {name: Tally() for name in methods})
        readings: dict[str, Reading] = {}
        for name, method in methods.items():
            reading = readings[name] = timed(method, sample.data)
            score(per_method[name], reading, sample.identity)
            if name == "ours" and wrong_fields(reading, sample.identity):
                print(f"  WRONG by ours on {sample.name}: {wrong_fields(reading, sample.identity)}", file=sys.stderr)
        for plain in behind_plain(readings, sample.identity):
            print(f"  ours missed what {plain} read on {sample.name}", file=sys.stderr)
    return tallies


def behind_plain(readings: dict[str, Reading], identity: Truth) -> list[str]:
    """The plain methods that read right a value ours did not (the issue: never worse than them, photo by photo)."""
    ours = readings.get("ours")
    if ours is None:
        return []
    qr_missed = ours.qr_url != identity.qr_url
    cic_missed = ours.cic != identity.cic
    return [f"{name} {'QR' if name in ('zxing', 'pyzbar') else 'CIC'}" for name, reading in readings.items()
            if (name in ("zxing", "pyzbar") and qr_missed and reading.qr_url == identity.qr_url)
            or (name in ("ocr", "ocr1600") and cic_missed and reading.cic == identity.cic)]


def total_row(tallies: dict[str, dict[str, Tally]], methods: Sequence[str]) -> dict[str, Tally]:
    total = {name: Tally() for name in methods}
    for per_method in tallies.values():
        for name, tally in per_method.items():
            summed = total[name]
            summed.qr_ok += tally.qr_ok
            summed.mrz_ok += tally.mrz_ok
            summed.ok_flag += tally.ok_flag
            summed.wrong += tally.wrong
            summed.ms.extend(tally.ms)
            summed.reasons.update(tally.reasons)
    return total


def ratio(ours: float, plain: float) -> str:
    return f"{ours / plain:.2f}" if plain else "inf" if ours else "-"


def print_reads(tallies: dict[str, dict[str, Tally]], methods: Sequence[str]) -> None:
    columns = [("ours", "qr_ok", "ours QR"), ("zxing", "qr_ok", "zxing QR"), ("pyzbar", "qr_ok", "pyzbar QR"),
               ("ours", "mrz_ok", "ours MRZ"), ("ocr", "mrz_ok", "ocr MRZ"), ("ocr1600", "mrz_ok", "ocr1600"),
               ("ours", "ok_flag", "ours ok")]
    columns = [column for column in columns if column[0] in methods]
    wrong_columns = [name for name in ("ours", "zxing", "pyzbar", "ocr", "ocr1600") if name in methods]
    header = f"{'condition':12} {'n':>3} " + " ".join(f"{label:>9}" for _, _, label in columns)
    print("\nReads (successes of n)   |  WRONG reads\n" + header + "  | " + " ".join(f"{n:>6}" for n in wrong_columns))
    for condition, per_method in [*tallies.items(), ("TOTAL", total_row(tallies, methods))]:
        count = len(next(iter(per_method.values())).ms)
        cells = " ".join(f"{getattr(per_method[name], attr):>9}" for name, attr, _ in columns)
        wrongs = " ".join(f"{per_method[name].wrong:>6}" for name in wrong_columns)
        print(f"{condition:12} {count:>3} {cells}  | {wrongs}")
    if "ours" in methods:
        reasons = total_row(tallies, methods)["ours"].reasons
        listed = ", ".join(f"{reason} {count}" for reason, count in reasons.most_common())
        print(f"ours' reasons when not ok: {listed or '-'}")


def print_times(tallies: dict[str, dict[str, Tally]], methods: Sequence[str]) -> None:
    plain = next((name for name in ("ocr", "ocr1600") if name in methods and "ours" in methods), None)
    last_column = f"; last column: median ours / {plain}" if plain else ""
    print("\nCPU time per photo, ms (median / p90), one core" + last_column)
    last = f" {'ours/' + plain:>12}" if plain else ""
    print(f"{'condition':12} " + " ".join(f"{name:>15}" for name in methods) + last)
    for condition, per_method in [*tallies.items(), ("TOTAL", total_row(tallies, methods))]:
        cells = []
        for name in methods:
            values = per_method[name].ms
            cells.append(f"{statistics.median(values):7.0f} /{percentile(values, 0.9):6.0f}")
        if plain:
            cells.append(f"{median_ratio(per_method['ours'].ms, per_method[plain].ms):>12}")
        print(f"{condition:12} " + " ".join(f"{cell:>15}" for cell in cells))


def median_ratio(ours: Sequence[float], plain: Sequence[float]) -> str:
    return ratio(statistics.median(ours), statistics.median(plain)) if ours and plain else "-"


def print_ratios(tallies: dict[str, dict[str, Tally]], methods: Sequence[str]) -> None:
    if "ours" not in methods:
        return
    total = total_row(tallies, methods)
    ours = total["ours"]
    print("\nRatios, ours / plain (whole corpus)")
    for name, attr, label in (("zxing", "qr_ok", "QR reads"), ("pyzbar", "qr_ok", "QR reads"),
                              ("ocr", "mrz_ok", "MRZ (CIC) reads")):
        if name in total:
            plain = total[name]
            print(f"  {label:16} vs {name:7}: {ratio(getattr(ours, attr), getattr(plain, attr))}"
                  f"   median time: {ratio(statistics.median(ours.ms), statistics.median(plain.ms))}")
    if {"zxing", "ocr"} <= set(total):
        plain_any = [z + o for z, o in zip(total["zxing"].ms, total["ocr"].ms, strict=True)]
        both = ratio(statistics.median(ours.ms), statistics.median(plain_any))
        print(f"  median time vs zxing+ocr run back to back: {both}")


def run_files(paths: Sequence[Path], methods: dict[str, Method]) -> None:
    print(f"{'file':32} " + " ".join(f"{name:>34}" for name in methods))
    for path in paths:
        data = path.read_bytes()
        cells = []
        for method in methods.values():
            reading = timed(method, data)
            found = reading.cic or (reading.qr_url or "")[-24:] or reading.extra.get("reason") or "-"
            cells.append(f"{str(found)[:26]:>26} {reading.ms:6.0f}ms")
        print(f"{path.name[:32]:32} " + " ".join(cells))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-condition", type=int, default=5)
    parser.add_argument("--seed", default="1", help="one seed or several, comma-separated: each adds a corpus")
    parser.add_argument("--models", default="E,H", help="credential models to cycle through, e.g. D,E,F,G,H")
    parser.add_argument("--conditions", help="default: all of the generator's conditions")
    parser.add_argument("--generator", choices=("ours", "other"), default="ours",
                        help="ours: capture.specimens; other: bench/other_generator.py")
    parser.add_argument("--methods", default="ours,zxing,pyzbar,ocr")
    parser.add_argument("--files", nargs="+", type=Path, help="real photos: print reads and timings only")
    return parser.parse_args(argv)


def make_photos(args: argparse.Namespace) -> list[Photo]:
    seeds = [int(seed) for seed in args.seed.split(",")]
    if args.generator == "other":
        from bench.other_generator import OtherCondition, other_corpus

        chosen = [OtherCondition(v) for v in args.conditions.split(",")] if args.conditions else list(OtherCondition)
        return [photo for seed in seeds for photo in other_corpus(seed, args.per_condition, chosen)]
    conditions = [Condition(v) for v in args.conditions.split(",")] if args.conditions else list(Condition)
    models = tuple(args.models.split(","))
    return [photo for seed in seeds for photo in corpus(seed, args.per_condition, models, conditions)]


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    methods = build_methods(args.methods.split(","))
    if args.files:
        warm_up(methods, args.files[0].read_bytes())
        run_files(args.files, methods)
        return
    started = time.perf_counter()
    samples = make_photos(args)
    print(f"corpus: {len(samples)} photos ({args.generator} generator, seeds {args.seed}, {args.per_condition} per "
          f"condition and seed, models {args.models}) generated in {time.perf_counter() - started:.1f} s")
    warm_up(methods, samples[0].data)
    tallies = run_corpus(samples, methods)
    print_reads(tallies, list(methods))
    print_times(tallies, list(methods))
    print_ratios(tallies, list(methods))


if __name__ == "__main__":
    main()
