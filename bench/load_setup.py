"""What bench/load.py needs before it drives anything: the photos the simulated phones send (made once, kept in a
cache folder), a fresh PostgreSQL database seeded through the domain and auth services (no OAuth dance), and the
app itself under `registro serve --workers N` in a subprocess, with the CPU seconds of its process tree."""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import time
from base64 import b64encode
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "var" / "bench-load"  # git-ignored; photos are generated once and reused by later runs
SEED_DB, RUN_DB = "registro_bench_load_seed", "registro_bench_load"
CLK_TCK = os.sysconf("SC_CLK_TCK")
STARTUP_SECONDS = 180  # each worker loads the OCR models before it answers


# ---------------------------------------------------------------------------------------------- photos

@dataclass(frozen=True)
class Photos:
    backs: list[bytes]  # 12 MP phone photos of synthetic backs, one person each
    field_backs: list[bytes]  # backs as the field app sends them (resized on the phone, long side 2000)
    front: bytes
    live: bytes
    signature: bytes


def _twelve_mp_back(index: int) -> bytes:
    from capture.specimens.corpus import make_sample
    from capture.specimens.photo import Condition
    return make_sample(1414, Condition.NOMINAL, index, "GH"[index % 2]).data


def _field_back(index: int) -> bytes:
    return _phone_resized(_twelve_mp_back(10_000 + index))


def _phone_resized(data: bytes, long_side: int = 2000) -> bytes:
    from PIL import Image
    image = Image.open(io.BytesIO(data))
    image.thumbnail((long_side, long_side))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _textured_jpeg(seed: int, size: tuple[int, int]) -> bytes:
    """A photo-like JPEG (gradient, shapes and noise): flat colour would make re-encoding unrealistically cheap."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter
    rng = np.random.default_rng(seed)
    width, height = size
    base = np.linspace(60, 200, width)[None, :, None] + np.linspace(0, 40, height)[:, None, None]
    pixels = np.clip(base + rng.normal(0, 18, (height, width, 3)), 0, 255).astype("uint8")
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 4, height // 6, width * 3 // 4, height * 5 // 6), fill=(150, 110, 90))
    out = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(1)).save(out, "JPEG", quality=85)
    return out.getvalue()


def _signature_png() -> bytes:
    from PIL import Image, ImageDraw
    image = Image.new("RGBA", (700, 300), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(40, 200), (200, 80), (320, 220), (520, 60), (650, 180)], fill=(0, 0, 0, 255),
                               width=6)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def photos(backs: int, field_backs: int) -> Photos:
    """The phones' photos; the 12 MP backs are generated on both cores the first time and read from CACHE after."""
    folder = CACHE / "backs"
    folder.mkdir(parents=True, exist_ok=True)
    missing = [i for i in range(backs) if not (folder / f"{i:04d}.jpg").exists()]
    if missing:
        print(f"generating {len(missing)} 12 MP back photos into {folder} (once) ...", flush=True)
        with ProcessPoolExecutor(max_workers=2) as pool:
            for index, data in zip(missing, pool.map(_twelve_mp_back, missing, chunksize=4), strict=True):
                (folder / f"{index:04d}.jpg").write_bytes(data)
    twelve = [(folder / f"{i:04d}.jpg").read_bytes() for i in range(backs)]
    # The field phones' backs: other people (the same photos would be claimed twice), resized as field-queue.js does.
    field_folder = CACHE / "field-backs"
    field_folder.mkdir(exist_ok=True)
    missing = [i for i in range(field_backs) if not (field_folder / f"{i:04d}.jpg").exists()]
    with ProcessPoolExecutor(max_workers=2) as pool:
        for index, data in zip(missing, pool.map(_field_back, missing), strict=True):
            (field_folder / f"{index:04d}.jpg").write_bytes(data)
    resized = [(field_folder / f"{i:04d}.jpg").read_bytes() for i in range(field_backs)]
    return Photos(backs=twelve, field_backs=resized, front=_textured_jpeg(1, (1600, 1200)),
                  live=_textured_jpeg(2, (1280, 960)), signature=_signature_png())


def distinct_field_backs(url: str, env: dict[str, str], base: bytes, count: int) -> list[bytes]:
    """`count` field backs, each another person's, so every field item is a support stored, not a duplicate refused:
    `base` with a comment naming it (other bytes and SHA-256, the same pixels), its reading placed in the shared
    decode cache of the database at `url` under a fresh synthetic identity, as a phone that read the back online
    first leaves it (the base is decoded once, here; decoding is bench/decode.py's business). The entries outlive a
    whole bench run, so the copies of a seed database have them too."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("REGISTRO_")})
    import hashlib

    from core.clock import to_local, utcnow
    from core.db import make_engine
    from core.settings import load_settings
    from registry.images import image_fernet
    from registry.intake.decode_cache import SharedReadingCache
    from registry.intake.reading import ImageLimits, decode_back
    settings = load_settings()
    today = to_local(utcnow()).date()  # the day the field API decides vigencia on (web/routes/field_api.py)
    decoded = decode_back(base, today=today, limits=ImageLimits(max_bytes=15_000_000, max_pixels=50_000_000),
                          budget_ms=60_000)
    if not decoded.reading.ok:
        raise RuntimeError(f"the base field back does not read: {decoded.reading.reason}")
    engine = make_engine(url)
    # Sealed as the app seals it (registry/images.image_fernet); kept 6 h: a bench's seed outlives 15 minutes.
    cache = SharedReadingCache(engine, image_fernet(image_key=settings.image_key, secret_key=settings.secret_key),
                               seconds=6 * 3600)
    rng, backs = random.Random(1014), []
    for n in range(count):
        comment = f"bench field back {n}".encode()
        data = base[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + base[2:]
        sha256 = hashlib.sha256(data).hexdigest()
        cache.put((sha256, today), _as_another_person(decoded, rng, sha256))
        backs.append(data)
    engine.dispose()
    return backs


def _as_another_person(decoded: Any, rng: random.Random, sha256: str) -> Any:
    """The same reading with another synthetic person's CIC, identificador, OCR and QR (check digits valid)."""
    from dataclasses import replace

    from capture.qr import parse_ine_url
    from capture.specimens.identity import random_identity
    from registry.intake.reading import BackDecode
    person, reading = random_identity(rng, "H"), decoded.reading
    fields = replace(reading.mrz.fields, cic=person.cic, identificador_ciudadano=person.identificador_ciudadano,
                     ocr=person.ocr)
    qr = replace(reading.qr, url=parse_ine_url(person.qr_url))
    image = replace(decoded.image, sha256=sha256) if decoded.image is not None else None
    return BackDecode(reading=replace(reading, qr=qr, mrz=replace(reading.mrz, fields=fields)), image=image)


# ---------------------------------------------------------------------------------------------- database

def environment(url: str, redis_url: str, workers: int, extra: dict[str, str]) -> dict[str, str]:
    """The server's settings (and the seeding process's: the same keys seal and index personal data)."""
    key = b64encode(random.Random(14).randbytes(32)).decode()
    index_key = b64encode(random.Random(41).randbytes(32)).decode()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRO_")}
    env.update({
        "REGISTRO_ENV": "production", "REGISTRO_DATABASE_URL": url, "REGISTRO_DATA_DIR": str(CACHE / "data"),
        "REGISTRO_SECRET_KEY": b64encode(random.Random(7).randbytes(36)).decode(),
        "REGISTRO_DATA_KEYS": f'{{"bench": "{key}"}}', "REGISTRO_DATA_KEY_ID": "bench", "REGISTRO_INDEX_KEY": index_key,
        "REGISTRO_RATE_LIMIT_STORAGE": redis_url,
        # Every simulated phone comes from 127.0.0.1: the per-IP limits would throttle the whole crowd as one.
        "REGISTRO_RATE_LIMITS": '{"decode_ip": "1000000/minute"}',
        "REGISTRO_WORKER_IN_PROCESS": "false",  # the web tier is measured; the compulsa runs elsewhere
        "REGISTRO_LOG_FORMAT": "json",
    })
    env.update(extra)
    return env


def recreate(url: str, name: str, *, template: str | None = None, drop_only: bool = False) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from core.db import make_engine
    admin = make_engine(make_url(url).set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if not drop_only:
            connection.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()


@dataclass
class Seed:
    """Who the simulated people are: (account id, session token, CSRF token) each, and the codes to type."""

    process_id: int = 0
    aspirant_ids: list[int] = field(default_factory=list)
    decoders: list[tuple[int, str, str]] = field(default_factory=list)  # citizens who start from the back photo
    submitters: list[tuple[int, str, str, str]] = field(default_factory=list)  # ... and who have a code already
    auxiliaries: list[tuple[int, str, str, int]] = field(default_factory=list)  # with their aspirant
    readers: list[tuple[int, str, str, str]] = field(default_factory=list)  # with the report page they poll


def seed(url: str, env: dict[str, str], *, decoders: int, submitters: int, auxiliaries: int) -> Seed:
    """Migrate and fill the seed database once (every run copies it as a template): an OPL, an open process, four
    aspirants, their auxiliaries, citizens (with sessions; the submitters with activation codes as if their back
    photo had been read) and two report readers."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("REGISTRO_")})
    from datetime import timedelta

    from sqlmodel import col, select

    from auth.models import Account, RoleGrant, UserSession
    from auth.roles import Role
    from auth.sessions import hash_token, start_session
    from capture.specimens.identity import random_identity
    from core.clock import utcnow
    from core.db import make_engine, session_scope
    from core.settings import load_settings
    from registry import migrate
    from registry.codes import hash_code, new_code
    from registry.models import ActivationCode, Aspirant, Auxiliary, CredentialReading, Opl, Process
    from registry.states import InvitationState, ReadingSource, ScopeKind
    settings = load_settings()
    try:
        from core.sealing import install_sealer, sealer_from_settings
        install_sealer(sealer_from_settings(settings))
    except ImportError:  # before personal data was sealed at rest
        pass
    engine = make_engine(url)
    migrate.upgrade(engine)
    now, result, rng = utcnow(), Seed(), random.Random(2026)

    def people(db: Any, names: list[str], role: Role, **grant: Any) -> list[tuple[int, str, str]]:
        """Accounts with one grant and a live session each, in a few round trips (inserts are batched)."""
        accounts = [Account(display_name=name, email=f"{name.replace(' ', '.').lower()}@bench.invalid")
                    for name in names]
        db.add_all(accounts)
        db.flush()
        ids = [account.id or 0 for account in accounts]
        db.add_all([RoleGrant(account_id=account_id, role=role, **grant) for account_id in ids])
        tokens = [start_session(session=db, account_id=account_id, now=now) for account_id in ids]
        db.flush()
        csrf = dict(db.exec(select(UserSession.token_hash, UserSession.csrf_token)
                            .where(col(UserSession.token_hash).in_([hash_token(t) for t in tokens]))).all())
        return [(account_id, token, csrf[hash_token(token)]) for account_id, token in zip(ids, tokens, strict=True)]

    with session_scope(engine) as db:
        opl = Opl(name="Instituto Bench", short_name="IEE Bench", state_code=26)
        db.add(opl)
        db.flush()
        process = Process(opl_id=opl.id or 0, name="Gubernatura 2027", office="Gubernatura", scope_kind=ScopeKind.STATE,
                          scope_state=26, starts_at=now - timedelta(days=10), ends_at=now + timedelta(days=30),
                          threshold_percent=Decimal("3.0"))
        db.add(process)
        db.flush()
        result.process_id = process.id or 0
        for a in range(4):
            aspirant = Aspirant(process_id=result.process_id, full_name=f"Aspirante {a + 1}",
                                email=f"a{a}@bench.invalid")
            db.add(aspirant)
            db.flush()
            result.aspirant_ids.append(aspirant.id or 0)
        for x in range(auxiliaries):
            aspirant_id = result.aspirant_ids[x % 4]
            [(account_id, token, csrf)] = people(db, [f"Auxiliar {x}"], Role.AUXILIARY, aspirant_id=aspirant_id)
            db.add(Auxiliary(aspirant_id=aspirant_id, account_id=account_id, full_name=f"Auxiliar {x}",
                             clave_elector=f"BENCHX90010126H{x:03d}", email=f"aux{x}@bench.invalid",
                             phone="6620000000", state=InvitationState.ACTIVE))
            result.auxiliaries.append((account_id, token, csrf, aspirant_id))
        [reader] = people(db, ["Lectora OPL"], Role.OPL_ADMIN, opl_id=opl.id)
        result.readers.append((*reader, f"/opl/procesos/{process.id}/reportes"))
        [reader] = people(db, ["Lector Aspirante"], Role.ASPIRANT, aspirant_id=result.aspirant_ids[0])
        result.readers.append((*reader, "/aspirante/avance"))
        result.decoders = people(db, [f"Ciudadana D{n}" for n in range(decoders)], Role.CITIZEN)
    # The submitters' codes: the rows issue_code writes after reading a back photo (one call each would take
    # minutes for 10,000 people), each on its own credential.
    expires = now + timedelta(hours=24)
    for start in range(0, submitters, 1000):
        with session_scope(engine) as db:
            count = min(start + 1000, submitters) - start
            citizens = people(db, [f"Ciudadano S{n}" for n in range(start, start + count)], Role.CITIZEN)
            readings = [CredentialReading(source=ReadingSource.PIPELINE, cic=random_identity(rng, "H").cic,
                                          qr_text=f"http://qr.ine.mx/{start + n + 1:024d}/20200101/P/000001")
                        for n in range(count)]
            db.add_all(readings)
            db.flush()
            codes = [new_code() for _ in range(count)]
            db.add_all([ActivationCode(account_id=account_id, code_hash=hash_code(code, secret_key=settings.secret_key),
                                       cic=reading.cic or "", qr_text=reading.qr_text or "", reading_id=reading.id,
                                       created_at=now, expires_at=expires)
                        for (account_id, _t, _c), reading, code in zip(citizens, readings, codes, strict=True)])
            result.submitters += [(*citizen, code) for citizen, code in zip(citizens, codes, strict=True)]
    engine.dispose()
    return result


# ---------------------------------------------------------------------------------------------- server

class Server:
    """`registro serve --workers N` in its own process group, on loopback."""

    def __init__(self, env: dict[str, str], workers: int, port: int, options: Sequence[str] = ()) -> None:
        self.url = f"http://127.0.0.1:{port}"
        command = [str(Path(sys.executable).parent / "registro"), "serve", "--workers", str(workers),
                   "--port", str(port), *options]
        self.log = (CACHE / f"server-{workers}.log").open("wb")
        self.process = subprocess.Popen(command, env={**env, "REGISTRO_BASE_URL": self.url}, cwd=ROOT,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}: see {self.log.name}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the server did not become ready in {STARTUP_SECONDS} s: see {self.log.name}")

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's process tree (the supervisor and every worker) so far."""
        return sum(_cpu(pid) for pid in _tree(self.process.pid))

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


def _tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _cpu(pid: int) -> float:
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
