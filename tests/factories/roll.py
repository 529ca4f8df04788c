"""Factories for the Lista Nominal and for supports placed directly (as a channel that skips the intake's own
duplicate refusal would leave them: paper, bulk files, or several credentials of one person)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from core.clock import utcnow
from core.sealing import blind_index
from registry.models import CredentialReading, Opl, PendingVerification, RollEntry, RollImport, Support
from registry.roll.tally import write_tally
from registry.states import Channel, ReadingSource, RollImportState, RollStatus, SituacionRegistral, SupportStatus
from registry.supports import record_transition
from tests.factories import add

_numbers = itertools.count(1)
ROLL_HEADER = ("clave_elector,cic,ocr,identificador_ciudadano,nombre,apellido_paterno,apellido_materno,estado,"
               "distrito,municipio,seccion,situacion")


@dataclass(frozen=True)
class Citizen:
    """One person of the roll, with the credential identifiers a support can carry."""

    clave_elector: str
    cic: str
    ocr: str
    identificador_ciudadano: str
    state_code: int = 26
    district: int = 5
    municipality: int = 30
    seccion: int = 1001
    situacion: str = "vigente"  # the roll file's value: vigente, padron_sin_lista, baja_defuncion, ...

    def moved(self, **changes: object) -> Citizen:
        return replace(self, **changes)  # type: ignore[arg-type]

    def csv_line(self, nombre: str = "MARIA") -> str:
        return (f"{self.clave_elector},{self.cic},{self.ocr},{self.identificador_ciudadano},{nombre},LOPEZ,PEREZ,"
                f"{self.state_code},{self.district},{self.municipality},{self.seccion},{self.situacion}")


def citizen(number: int | None = None, **changes: object) -> Citizen:
    n = next(_numbers) if number is None else number
    made = Citizen(clave_elector=f"LOPEMA{900101 + n % 10_000:06d}26H{n % 1000:03d}"[:18],
                   cic=f"{100_000_000 + n:09d}", ocr=f"{1_000_000_000_000 + n:013d}",
                   identificador_ciudadano=f"{200_000_000 + n:09d}")
    return made.moved(**changes)


def _status(situacion: str) -> tuple[RollStatus, str | None]:
    if situacion.startswith("baja_"):
        return RollStatus.BAJA, situacion.removeprefix("baja_")
    return RollStatus(situacion), None


def make_roll(session: Session, *, opl: Opl, citizens: list[Citizen], cutoff: date = date(2026, 10, 31),
              state: RollImportState = RollImportState.CURRENT) -> RollImport:
    """A roll in force for the OPL, inserted row by row (on PostgreSQL: into the default partition)."""
    assert opl.id is not None
    roll = add(session, RollImport(opl_id=opl.id, source_name="prueba.csv", cutoff_date=cutoff, state=state,
                                   row_count=len(citizens)))
    assert roll.id is not None
    for line, person in enumerate(citizens, start=2):
        status, reason = _status(person.situacion)
        session.add(RollEntry(roll_import_id=roll.id, clave_elector=person.clave_elector, source_line=line,
                              cic=person.cic, ocr=person.ocr, identificador_ciudadano=person.identificador_ciudadano,
                              nombre="MARIA", apellido_paterno="LOPEZ", apellido_materno="PEREZ",
                              state_code=person.state_code, district=person.district,
                              municipality=person.municipality, seccion=person.seccion, status=status,
                              baja_reason=reason))
    session.flush()
    if state is RollImportState.CURRENT:
        write_tally(session=session, roll_import_id=roll.id)
    return roll


def write_roll_file(path: Path, citizens: list[Citizen], *, extra_lines: tuple[str, ...] = ()) -> Path:
    lines = [ROLL_HEADER, *(person.csv_line() for person in citizens), *extra_lines]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def place_support(session: Session, *, aspirant_id: int, process_id: int, cic: str | None = None,
                  clave_elector: str | None = None, ocr: str | None = None, identificador: str | None = None,
                  channel: Channel = Channel.AUXILIARY, received_at: datetime | None = None,
                  folio: str | None = None, located_as: Citizen | None = None) -> Support:
    """A received support with its reading and first event, as the intake stores one; `located_as` places it where
    that citizen is registered already (as a compulsa would), before its first event is counted."""
    n = next(_numbers)
    reading = add(session, CredentialReading(source=ReadingSource.PIPELINE, cic=cic, clave_elector=clave_elector,
                                             ocr=ocr, identificador_ciudadano=identificador))
    assert reading.id is not None
    at = received_at or utcnow() - timedelta(minutes=5)
    support = add(session, Support(
        folio=folio or f"RC-T{n:09d}", idempotency_key=f"test-{n}", process_id=process_id, aspirant_id=aspirant_id,
        channel=channel, reading_id=reading.id, cic=cic, clave_elector=clave_elector, captured_at=at,
        received_at=at, updated_at=at))
    assert support.id is not None
    if located_as is not None:
        support.citizen_key, support.state_code, support.district = (
            blind_index(located_as.clave_elector, "clave_elector"), located_as.state_code, located_as.district)
        support.municipality, support.seccion = located_as.municipality, located_as.seccion
    session.add(PendingVerification(support_id=support.id, process_id=process_id))
    record_transition(session=session, support=support, to_status=SupportStatus.RECEIVED,
                      situacion=SituacionRegistral.SIN_VERIFICAR, reason="recibido", actor_account_id=None, now=at,
                      initial=True)
    session.flush()
    return support
