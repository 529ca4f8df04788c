"""The demo's supports, so each demo person finds something on their pages: a few count, a few wait at the mesa de
control with a flag (typed identifiers, a phone clock days ahead, a QR token seen with another CIC), a few do not
count (not in the roll, a baja, a citizen who had already supported another aspirant for the office), and the demo
citizen has supports of their own. They go through the one intake (registry.supports.submit_support) and then the
compulsa, like any other. The people are invented: each is a synthetic credential (capture.specimens) added to the
demo roll, whose back photo the desk shows when an image store is given."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from PIL import Image, ImageDraw
from sqlmodel import Session, select

from auth.demo_people import DEMO_PEOPLE
from auth.models import Account
from auth.roles import Role
from capture.specimens import SpecimenIdentity, random_identity, render_back
from core.clock import as_utc, utcnow
from registry.images import ImageStore, clean_image, store_image
from registry.intake.credential import CredentialData
from registry.intake.receipts import stored_support
from registry.models import Aspirant, Auxiliary, Process, RollEntry
from registry.states import Channel, ImageKind, ReadingSource, RollStatus
from registry.supports import SupportSubmission, submit_support
from registry.verification.compulsa import current_roll, verify_process

SONORA = 26
KEY_PREFIX = "demo-apoyo:"
SEED = "registro-demo-apoyos"
# (municipality, district, sección) of the demo geography (registry.demo.MUNICIPALITIES) the people live in.
HOMES = ((30, 5, 1001), (30, 5, 1002), (18, 6, 501), (43, 2, 1201), (42, 7, 1150))
LIMITS = {"max_bytes": 15_000_000, "max_pixels": 50_000_000}


@dataclass(frozen=True)
class DemoSupport:
    key: str
    aspirant: int = 0  # index in the demo's aspirants; the demo auxiliary captures for the first one
    roll: RollStatus | None = RollStatus.VIGENTE  # None: not in the roll at all
    typed: bool = False  # the auxiliary typed the CIC instead of letting the photo be read
    clock_days_ahead: int = 0
    qr_of: str | None = None  # carries the QR token of this other person's credential
    by_citizen: bool = False  # given by the demo citizen from their own account
    person_of: str | None = None  # the same person (credential) as this other support
    # Photos for those someone looks at (the desk, the aspirant's rejected ones): a synthetic back takes a while.
    photos: bool = True


DEMO_SUPPORTS = (
    DemoSupport("cuenta-1", photos=False),
    DemoSupport("cuenta-2", photos=False),
    DemoSupport("cuenta-3", photos=False),
    DemoSupport("ciudadana", by_citizen=True, photos=False),
    DemoSupport("tecleada-1", typed=True),
    DemoSupport("tecleada-2", typed=True),
    DemoSupport("reloj-adelantado", clock_days_ahead=3),
    DemoSupport("qr-con-otro-cic", qr_of="cuenta-1"),
    DemoSupport("no-encontrada-1", roll=None),
    DemoSupport("no-encontrada-2", roll=None),
    DemoSupport("baja", roll=RollStatus.BAJA),
    DemoSupport("ciudadana-otro-aspirante", aspirant=1, by_citizen=True, person_of="ciudadana", photos=False),
)


def add_demo_supports(*, session: Session, process: Process, aspirants: list[Aspirant],
                      store: ImageStore | None) -> int:
    """Add the demo supports once (their keys are fixed: a second call finds them and adds nothing), then run the
    compulsa of the process; returns how many supports it added."""
    assert process.id is not None
    if stored_support(session, KEY_PREFIX + DEMO_SUPPORTS[0].key) is not None:
        return 0
    people = {item.key: _identity(item.key, index) for index, item in enumerate(DEMO_SUPPORTS)}
    _add_to_roll(session, process, people)
    start = _moment(process)
    added = 0
    for number, item in enumerate(DEMO_SUPPORTS):
        person = people[item.person_of or item.key]
        # Twenty minutes apart on the phone (a human pace), except the phone whose clock is days ahead.
        captured_at = (start + timedelta(days=item.clock_days_ahead) if item.clock_days_ahead
                       else start - timedelta(minutes=20 * (len(DEMO_SUPPORTS) - number)))
        submission = _submission(session, item, person, people, aspirants, store, captured_at=captured_at)
        # A second apart at the server: the order decides which of one person's supports counts.
        receipt = submit_support(session=session, submission=submission, actor_account_id=None,
                                 now=start + timedelta(seconds=number))
        added += receipt.created
    verify_process(session=session, process_id=process.id, now=start + timedelta(minutes=1))
    return added


def _moment(process: Process) -> datetime:
    """Now, kept inside the collection window (a demo loaded with another day's date)."""
    opens, closes = as_utc(process.starts_at), as_utc(process.ends_at)
    return min(max(utcnow(), opens + timedelta(days=1)), closes - timedelta(days=1))


def _identity(key: str, index: int) -> SpecimenIdentity:
    _municipality, _district, seccion = HOMES[index % len(HOMES)]
    return replace(random_identity(random.Random(f"{SEED}:{key}"), "H"), seccion=f"{seccion:04d}")


def _add_to_roll(session: Session, process: Process, people: dict[str, SpecimenIdentity]) -> None:
    roll = current_roll(session=session, opl_id=process.opl_id)
    assert roll is not None and roll.id is not None
    for index, item in enumerate(DEMO_SUPPORTS):
        if item.roll is None or item.person_of is not None:
            continue
        municipality, district, seccion = HOMES[index % len(HOMES)]
        person = people[item.key]
        session.add(RollEntry(
            roll_import_id=roll.id, clave_elector=_clave(person, index), cic=person.cic, ocr=person.ocr,
            identificador_ciudadano=person.identificador_ciudadano, nombre=" ".join(person.names),
            apellido_paterno=person.surnames[0], apellido_materno=person.surnames[-1],
            state_code=SONORA, district=district, municipality=municipality, seccion=seccion, status=item.roll,
            baja_reason="defuncion" if item.roll is RollStatus.BAJA else None))
        roll.row_count += 1
    session.add(roll)
    session.flush()


def _clave(person: SpecimenIdentity, index: int) -> str:
    paterno, materno = person.surnames[0], person.surnames[-1]
    letters = (paterno[:2] + materno[:2] + person.names[0][:2]).upper()
    return f"{letters}{person.birth_date:%y%m%d}{SONORA:02d}{person.sex}{index:03d}"


def _submission(session: Session, item: DemoSupport, person: SpecimenIdentity, people: dict[str, SpecimenIdentity],
                aspirants: list[Aspirant], store: ImageStore | None, *, captured_at: datetime) -> SupportSubmission:
    aspirant = aspirants[item.aspirant]
    assert aspirant.id is not None
    images = _photos(session, store, person) if store is not None and item.photos else {}
    qr = people[item.qr_of].qr_url if item.qr_of else person.qr_url
    credential = CredentialData(
        source=ReadingSource.MANUAL if item.typed else ReadingSource.PIPELINE, cic=person.cic,
        identificador_ciudadano=None if item.typed else person.identificador_ciudadano,
        qr_text=None if item.typed else qr, model_hint=None if item.typed else "E-H",
        expiry=None if item.typed else date(person.expiry_year, 12, 31), back_image_id=images.get(ImageKind.BACK))
    by_citizen = _demo_account(session, Role.CITIZEN) if item.by_citizen else None
    auxiliary = None if item.by_citizen else session.exec(
        select(Auxiliary.id).where(Auxiliary.aspirant_id == aspirant.id)).first()
    return SupportSubmission(
        idempotency_key=KEY_PREFIX + item.key, aspirant_id=aspirant.id,
        channel=Channel.CITIZEN if item.by_citizen else Channel.AUXILIARY, credential=credential,
        captured_at=captured_at, citizen_account_id=by_citizen, auxiliary_id=auxiliary,
        live_photo_id=images.get(ImageKind.LIVE_PHOTO), signature_image_id=images.get(ImageKind.SIGNATURE),
        manual_capture=item.typed)


def _demo_account(session: Session, role: Role) -> int | None:
    email = next(person.email for person in DEMO_PEOPLE if person.role is role)
    return session.exec(select(Account.id).where(Account.email == email)).first()


def _photos(session: Session, store: ImageStore, person: SpecimenIdentity) -> dict[ImageKind, int]:
    """The credential's back (synthetic, legible), and a drawn signature and a plain silhouette for the live
    photo: enough for the desk to show every pane."""
    rng = random.Random(f"{SEED}:{person.cic}")
    made = {ImageKind.BACK: _jpeg(render_back(person, px_per_mm=8).convert("RGB")),
            ImageKind.LIVE_PHOTO: _jpeg(_silhouette(rng)), ImageKind.SIGNATURE: _signature(rng)}
    ids: dict[ImageKind, int] = {}
    for kind, data in made.items():
        row = store_image(session=session, store=store, image=clean_image(data, kind=kind, **LIMITS))
        assert row.id is not None
        ids[kind] = row.id
    return ids


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _silhouette(rng: random.Random) -> Image.Image:
    shade = rng.randrange(150, 210)
    image = Image.new("RGB", (480, 640), (shade, shade - 10, shade - 30))
    draw = ImageDraw.Draw(image)
    draw.ellipse((160, 120, 320, 320), fill=(120, 90, 70))
    draw.rounded_rectangle((100, 340, 380, 640), radius=80, fill=(60, 70, 110))
    return image


def _signature(rng: random.Random) -> bytes:
    image = Image.new("RGBA", (700, 300), (0, 0, 0, 0))
    points = [(40 + 90 * step, rng.randrange(60, 240)) for step in range(8)]
    ImageDraw.Draw(image).line(points, fill=(0, 0, 0, 255), width=6, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
