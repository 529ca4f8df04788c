"""The Lista Nominal's size per sección for one roll import (registry.models.RollTally). The loader writes it in
its switch with the same statement; this is for rolls put in force another way (demo data, tests, a migration)."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session


def write_tally(*, session: Session, roll_import_id: int) -> None:
    session.execute(text("DELETE FROM rolltally WHERE roll_import_id = :roll"), {"roll": roll_import_id})
    session.execute(text(
        "INSERT INTO rolltally (roll_import_id, state_code, district, municipality, seccion, vigentes) "
        "SELECT roll_import_id, state_code, district, municipality, seccion, count(*) FROM rollentry "
        "WHERE roll_import_id = :roll AND status = 'vigente' "
        "GROUP BY roll_import_id, state_code, district, municipality, seccion"), {"roll": roll_import_id})
