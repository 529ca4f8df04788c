"""Demo data for the quick start: one OPL (Sonora), one open process, three aspirants, a synthetic roll, an
account for every role and a few supports already through the compulsa (registry.demo_supports). Idempotent:
running it twice changes nothing. Every person here is invented."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from sqlmodel import Session, select

from auth.demo_people import DEMO_PEOPLE, LOCAL_PROVIDER, DemoPerson
from auth.models import Account, OAuthIdentity, RoleGrant
from auth.roles import ASPIRANT_SCOPED, OPL_SCOPED, Role
from core.clock import MEXICO_CITY, utcnow
from registry.catalogue import ensure_default_inconsistencies
from registry.demo_supports import add_demo_supports
from registry.images import ImageStore
from registry.models import (
    Aspirant,
    Auxiliary,
    GeoUnit,
    Opl,
    PaperExceptionMunicipality,
    Process,
    RollEntry,
    RollImport,
)
from registry.roll.tally import write_tally
from registry.states import GeoKind, InvitationState, RollImportState, RollStatus, ScopeKind
from registry.verification.compulsa import current_roll

T = TypeVar("T")

SONORA = 26
DEMO_OPL_SHORT_NAME = "IEE Sonora"
# INE municipality keys of a few Sonora municipalities, with the secciones the synthetic roll uses.
MUNICIPALITIES: dict[int, tuple[str, int, tuple[int, ...]]] = {
    30: ("Hermosillo", 5, (1001, 1002, 1003)),
    18: ("Cajeme", 6, (501, 502)),
    43: ("Nogales", 2, (1201, 1202)),
    42: ("Navojoa", 7, (1150,)),
    4: ("Álamos", 7, (70,)),
}
PAPER_EXCEPTION_MUNICIPALITIES = (4,)
ROLL_ROWS_PER_SECCION = 40
ASPIRANT_NAMES = ("Carmen Aspirante Demo", "Jorge Independiente Demo", "Lucía Candidata Demo")
GIVEN_NAMES = ("MARIA", "JOSE", "GUADALUPE", "JUAN", "ANA", "LUIS", "ROSA", "CARLOS", "ELENA", "MIGUEL")
SURNAMES = ("HERNANDEZ", "GARCIA", "MARTINEZ", "LOPEZ", "GONZALEZ", "PEREZ", "RODRIGUEZ", "SANCHEZ", "RAMIREZ")


@dataclass(frozen=True)
class DemoSummary:
    created: bool
    roll_rows: int
    accounts: int


def load_demo_data(*, session: Session, today: date | None = None, store: ImageStore | None = None) -> DemoSummary:
    """With `store`, the demo supports carry photos (synthetic credential backs, a drawn signature) for the desk."""
    existing = session.exec(select(Opl).where(Opl.short_name == DEMO_OPL_SHORT_NAME)).first()
    if existing is not None:
        return DemoSummary(created=False, roll_rows=0, accounts=0)
    opl = _add(session, Opl(name="Instituto Estatal Electoral y de Participación Ciudadana de Sonora",
                            short_name=DEMO_OPL_SHORT_NAME, state_code=SONORA))
    _add_geography(session)
    process = _add_process(session, opl, today or utcnow().astimezone(MEXICO_CITY).date())
    aspirants = [_add(session, Aspirant(process_id=_id(process), full_name=name,
                                        email=f"aspirante{i}@demo.registro.local"))
                 for i, name in enumerate(ASPIRANT_NAMES, start=1)]
    rows = _add_roll(session, opl)
    accounts = [_add_demo_account(session, person, opl, aspirants[0]) for person in DEMO_PEOPLE]
    ensure_default_inconsistencies(session=session, opl_id=opl.id)
    add_demo_supports(session=session, process=process, aspirants=aspirants, store=store)
    roll = current_roll(session=session, opl_id=_id(opl))  # the supports' people joined the roll
    return DemoSummary(created=True, roll_rows=roll.row_count if roll else rows, accounts=len(accounts))


def _add(session: Session, row: T) -> T:
    session.add(row)
    session.flush()
    return row


def _id(row: object) -> int:
    value = getattr(row, "id", None)
    assert isinstance(value, int), "row must be flushed before its id is used"
    return value


def _add_geography(session: Session) -> None:
    session.add(GeoUnit(kind=GeoKind.STATE, state_code=SONORA, name="Sonora"))
    for number, (name, district, secciones) in MUNICIPALITIES.items():
        session.add(GeoUnit(kind=GeoKind.MUNICIPALITY, state_code=SONORA, municipality=number, name=name))
        for seccion in secciones:
            session.add(GeoUnit(kind=GeoKind.SECCION, state_code=SONORA, district=district,
                                municipality=number, seccion=seccion, name=f"Sección {seccion:04d}"))


def _add_process(session: Session, opl: Opl, today: date) -> Process:
    # The demo's collection window is open around today so every flow can be tried at once.
    opens = datetime.combine(today - timedelta(days=30), datetime.min.time(), MEXICO_CITY)
    closes = datetime.combine(today + timedelta(days=60), datetime.max.time(), MEXICO_CITY)
    process = _add(session, Process(
        opl_id=_id(opl), name="Gubernatura 2027", office="Gubernatura del Estado de Sonora",
        scope_kind=ScopeKind.STATE, scope_state=SONORA, starts_at=opens, ends_at=closes,
        threshold_percent=Decimal("3.000"), dispersion_unit=GeoKind.MUNICIPALITY,
        dispersion_min_share=Decimal("0.5000"), dispersion_unit_percent=Decimal("1.000"),
    ))
    for municipality in PAPER_EXCEPTION_MUNICIPALITIES:
        session.add(PaperExceptionMunicipality(process_id=_id(process), municipality=municipality))
    return process


def _add_roll(session: Session, opl: Opl) -> int:
    rng = random.Random(2027)
    batch = _add(session, RollImport(opl_id=_id(opl), source_name="lista-nominal-demo-sintetica.csv",
                                     cutoff_date=date(2026, 10, 31)))
    rows = 0
    for number, (_name, district, secciones) in MUNICIPALITIES.items():
        for seccion in secciones:
            for _ in range(ROLL_ROWS_PER_SECCION):
                session.add(_synthetic_roll_entry(rng, _id(batch), district, number, seccion))
                rows += 1
    batch.row_count, batch.state, batch.switched_at = rows, RollImportState.CURRENT, utcnow()
    session.flush()
    write_tally(session=session, roll_import_id=_id(batch))
    return rows


def _synthetic_roll_entry(rng: random.Random, batch_id: int, district: int, municipality: int,
                          seccion: int) -> RollEntry:
    nombre, paterno, materno = rng.choice(GIVEN_NAMES), rng.choice(SURNAMES), rng.choice(SURNAMES)
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(20000))
    sex = rng.choice("HM")
    letters = (paterno[:2] + materno[:2] + nombre[:2]).upper()
    clave = f"{letters}{born:%y%m%d}{SONORA:02d}{sex}{rng.randrange(1000):03d}"
    baja = rng.random() < 0.03
    return RollEntry(
        roll_import_id=batch_id, clave_elector=clave, cic=f"{rng.randrange(10**9):09d}",
        identificador_ciudadano=f"{rng.randrange(10**9):09d}", ocr=f"{rng.randrange(10**13):013d}",
        nombre=nombre, apellido_paterno=paterno, apellido_materno=materno, state_code=SONORA,
        district=district, municipality=municipality, seccion=seccion,
        status=RollStatus.BAJA if baja else RollStatus.VIGENTE, baja_reason="defuncion" if baja else None,
    )


def _add_demo_account(session: Session, person: DemoPerson, opl: Opl, aspirant: Aspirant) -> Account:
    account = _add(session, Account(display_name=person.name, email=person.email))
    session.add(OAuthIdentity(account_id=_id(account), provider=LOCAL_PROVIDER, subject=person.subject,
                              email=person.email))
    grant = RoleGrant(account_id=_id(account), role=person.role)
    if person.role in OPL_SCOPED:
        grant.opl_id = _id(opl)
    if person.role in ASPIRANT_SCOPED:
        grant.aspirant_id = _id(aspirant)
    session.add(grant)
    if person.role is Role.ASPIRANT:
        aspirant.account_id, aspirant.email = _id(account), person.email
    if person.role is Role.AUXILIARY:
        session.add(Auxiliary(aspirant_id=_id(aspirant), account_id=_id(account), full_name=person.name,
                              clave_elector="AUDEBE90010126H100", email=person.email, phone="6620000000",
                              state=InvitationState.ACTIVE, accepted_at=utcnow()))
    return account
