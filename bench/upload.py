"""Benchmark: the citizen's code step with a 12 MP photo of a credential's back on a slow uplink, with the photo
shrunk on the phone (static/js/photo-shrink.js: long side 2000 px, JPEG 0.85) and without (the plain form post,
JavaScript off), side by side.

    python bench/upload.py [--photos N] [--uplink-kbps 750] [--downlink-kbps 1500] [--latency-ms 150]

Chromium (Debian's /usr/bin/chromium, through Playwright) throttled by CDP Network.emulateNetworkConditions
drives the app (demo data, SQLite in a temporary folder, served by uvicorn on loopback): sign in as the demo
citizen, choose the photo on /ciudadano/codigo, press «Leer mi credencial», wait for the confirmation with the
right CIC. Prints per photo and mode the bytes sent and the seconds from the press to the confirmation (upload,
the server's reading and the page), then the medians and the ratio. Target: < 10 s shrunk at 750 kbps.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import uvicorn  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from auth.demo_people import DEMO_PEOPLE  # noqa: E402
from auth.roles import Role  # noqa: E402
from capture.specimens.corpus import make_sample  # noqa: E402
from capture.specimens.photo import Condition  # noqa: E402
from core.settings import load_settings  # noqa: E402
from web.app import create_app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}


def twelve_mp_back(index: int) -> tuple[bytes, str]:
    """A 12 MP phone photo of a synthetic back (sensor noise, JPEG 93: about 4 MB, as a phone saves it)."""
    sample = make_sample(1515, Condition.NOMINAL, index, "GH"[index % 2])
    pixels = np.asarray(Image.open(io.BytesIO(sample.data)).convert("RGB")).astype(np.int16)
    noisy = pixels + np.random.default_rng(index).normal(0, 6, pixels.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=93)
    return out.getvalue(), sample.identity.cic


def serve(data_dir: Path) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = {**os.environ, "REGISTRO_ENV": "development", "REGISTRO_DATA_DIR": str(data_dir)}
    registro = Path(sys.executable).with_name("registro")  # the command line of this virtualenv
    subprocess.run([str(registro), "demo-data"], cwd=ROOT, env=env, check=True)
    settings = load_settings(env="development", data_dir=data_dir, base_url=url, decode_budget_ms=30_000)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return url, server, thread


def sign_in(page: Any, url: str) -> None:
    person = next(person for person in DEMO_PEOPLE if person.role is Role.CITIZEN)
    page.goto(url + "/entrar")
    page.get_by_role("button", name="Entrar con Proveedor local de pruebas").click()
    page.get_by_role("button", name=re.compile(re.escape(person.name))).click()
    page.wait_for_url(re.compile(r"^(?!.*(/entrar|/dev-oidc)).*$"))


def code_step(browser: Any, url: str, photo: bytes, cic: str, *, shrink: bool, args: argparse.Namespace
              ) -> tuple[int, float]:
    """(bytes sent, seconds from the press to the confirmation page showing the CIC)."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="es-MX",
                                  java_script_enabled=shrink)
    context.set_default_timeout(300_000)
    try:
        page = context.new_page()
        sign_in(page, url)
        sent: list[int] = []
        page.on("requestfinished", lambda request: sent.append(int(request.all_headers().get("content-length", 0)))
                if request.method == "POST" and request.url.endswith("/ciudadano/codigo") else None)
        page.goto(url + "/ciudadano/codigo")
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": args.latency_ms,
            "uploadThroughput": args.uplink_kbps * 1000 / 8, "downloadThroughput": args.downlink_kbps * 1000 / 8})
        page.set_input_files("#reverso", files=[{"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": photo}])
        started = time.perf_counter()
        page.get_by_role("button", name="Leer mi credencial").click()
        page.get_by_text(cic).wait_for()
        return (sent[0] if sent else 0), time.perf_counter() - started
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=2)
    parser.add_argument("--uplink-kbps", type=int, default=750)
    parser.add_argument("--downlink-kbps", type=int, default=1500)
    parser.add_argument("--latency-ms", type=int, default=150)
    args = parser.parse_args()
    photos = [twelve_mp_back(index) for index in range(args.photos)]
    rows: dict[bool, list[tuple[int, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="registro-bench-upload-") as folder:
        url, server, thread = serve(Path(folder) / "var")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                print(f"uplink {args.uplink_kbps} kbps, downlink {args.downlink_kbps} kbps, "
                      f"latency {args.latency_ms} ms; 12 MP backs")
                print(f"{'photo':>5} {'MB photo':>8} {'MB sent shrunk':>14} {'s shrunk':>8} "
                      f"{'MB sent plain':>13} {'s plain':>7}")
                for index, (photo, cic) in enumerate(photos):
                    small = code_step(browser, url, photo, cic, shrink=True, args=args)
                    plain = code_step(browser, url, photo, cic, shrink=False, args=args)
                    rows[True].append(small)
                    rows[False].append(plain)
                    print(f"{index:>5} {len(photo) / 1e6:>8.2f} {small[0] / 1e6:>14.2f} {small[1]:>8.1f} "
                          f"{plain[0] / 1e6:>13.2f} {plain[1]:>7.1f}", flush=True)
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    shrunk_s = statistics.median(row[1] for row in rows[True])
    plain_s = statistics.median(row[1] for row in rows[False])
    shrunk_b = statistics.median(row[0] for row in rows[True])
    plain_b = statistics.median(row[0] for row in rows[False])
    print(f"{'median':>5} {'':>8} {shrunk_b / 1e6:>14.2f} {shrunk_s:>8.1f} {plain_b / 1e6:>13.2f} {plain_s:>7.1f}")
    print(f"shrunk/plain: bytes {shrunk_b / plain_b:.2f}, time {shrunk_s / plain_s:.2f}")


if __name__ == "__main__":
    main()
