"""Factories for the mesa de control: a process of an OPL with its reviewers, supports waiting in review (with their
flags and the roll entry the compulsa matched), contested supports with an open objection, and evidence images."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col

from auth.roles import Role
from core.clock import utcnow
from registry.images import ImageStore, clean_image, store_image
from registry.models import (
    Aspirant,
    CredentialReading,
    Objection,
    Opl,
    PendingVerification,
    Process,
    Support,
    SupportFlag,
)
from registry.states import Channel, ImageKind, ReviewFlag, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from tests.factories import add
from tests.factories.accounts import make_account
from tests.factories.photos import plain_photo
from tests.factories.processes import make_aspirant, make_opl, make_process
from tests.factories.roll import Citizen, citizen, make_roll, place_support


@dataclass(frozen=True)
class Desk:
    opl: Opl
    process: Process
    aspirant: Aspirant
    reviewer_ids: tuple[int, ...]
    people: list[Citizen]

    @property
    def opl_ids(self) -> frozenset[int]:
        assert self.opl.id is not None
        return frozenset({self.opl.id})

    @property
    def process_id(self) -> int:
        assert self.process.id is not None
        return self.process.id


def make_desk(session: Session, *, reviewers: int = 2, roll_size: int = 8, short_name: str | None = None) -> Desk:
    """An OPL with a process, an aspirant, reviewers and a roll in force of `roll_size` people."""
    opl = make_opl(session, short_name=short_name)
    process = make_process(session, opl=opl)
    aspirant = make_aspirant(session, process=process)
    people = [citizen() for _ in range(roll_size)]
    make_roll(session, opl=opl, citizens=people)
    ids = tuple(make_account(session, name=f"Revisora {n}", role=Role.REVIEWER, opl_id=opl.id).id or 0
                for n in range(reviewers))
    return Desk(opl=opl, process=process, aspirant=aspirant, reviewer_ids=ids, people=people)


def in_review(session: Session, desk: Desk, person: Citizen | None = None, *,
              flags: tuple[ReviewFlag, ...] = (ReviewFlag.MANUAL_CAPTURE,), channel: Channel = Channel.AUXILIARY,
              received_at: datetime | None = None, aspirant_id: int | None = None) -> Support:
    """A support the compulsa matched to `person` (or to nobody, with person None) and sent to the desk."""
    support = place_support(session, aspirant_id=aspirant_id or desk.aspirant.id or 0, process_id=desk.process_id,
                            cic=person.cic if person else "999000111", channel=channel,
                            received_at=received_at or utcnow() - timedelta(minutes=30), located_as=person)
    assert support.id is not None
    _verified(session, support)
    reading = session.get(CredentialReading, support.reading_id)
    assert reading is not None
    reading.ocr, reading.model_hint = (person.ocr if person else None), "E-H"
    session.add(reading)
    for flag in flags:
        session.add(SupportFlag(support_id=support.id, flag=flag, detail="prueba"))
    record_transition(session=session, support=support, to_status=SupportStatus.IN_REVIEW,
                      situacion=SituacionRegistral.EN_LISTA_NOMINAL, reason="en Lista Nominal; con motivo de revisión",
                      actor_account_id=None, now=support.received_at + timedelta(seconds=1))
    session.flush()
    return support


def _verified(session: Session, support: Support) -> None:
    """Off the compulsa's queue: these supports have been through it."""
    session.execute(delete(PendingVerification).where(col(PendingVerification.support_id) == support.id))


def contested(session: Session, desk: Desk, *, filed_by_account_id: int, argument: str = "La credencial es legible",
              situacion: SituacionRegistral = SituacionRegistral.DATOS_NO_ENCONTRADOS) -> tuple[Support, Objection]:
    """A support the compulsa rejected with `situacion`, contested by the aspirant (one open objection)."""
    support = place_support(session, aspirant_id=desk.aspirant.id or 0, process_id=desk.process_id, cic="555000111",
                            received_at=utcnow() - timedelta(hours=2))
    assert support.id is not None
    _verified(session, support)
    at = support.received_at
    record_transition(session=session, support=support, to_status=SupportStatus.INVALID, situacion=situacion,
                      reason="compulsa", actor_account_id=None, now=at + timedelta(seconds=1))
    record_transition(session=session, support=support, to_status=SupportStatus.CONTESTED, situacion=situacion,
                      reason="objeción presentada por el aspirante", actor_account_id=filed_by_account_id,
                      now=at + timedelta(seconds=2))
    objection = add(session, Objection(support_id=support.id, filed_by_account_id=filed_by_account_id,
                                       argument=argument, filed_at=at + timedelta(seconds=2)))
    return support, objection


def with_image(session: Session, store: ImageStore, support: Support, kind: ImageKind = ImageKind.BACK,
               shade: int = 150) -> int:
    """Store a plain photo as one of the support's images; returns its id."""
    clean = clean_image(plain_photo(shade), kind=kind, max_bytes=15_000_000, max_pixels=50_000_000)
    image = store_image(session=session, store=store, image=clean)
    assert image.id is not None
    if kind in (ImageKind.BACK, ImageKind.FRONT):
        reading = session.get(CredentialReading, support.reading_id)
        assert reading is not None
        setattr(reading, "back_image_id" if kind is ImageKind.BACK else "front_image_id", image.id)
        session.add(reading)
    elif kind is ImageKind.LIVE_PHOTO:
        support.live_photo_id = image.id
    elif kind is ImageKind.SIGNATURE:
        support.signature_image_id = image.id
    session.add(support)
    session.flush()
    return image.id
