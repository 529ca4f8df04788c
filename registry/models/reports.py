"""Report counters, written in the same transaction as the support events they count (registry.reports.counters),
and the Lista Nominal's size per sección, written at the roll's switch. A report reads these small tables instead
of grouping millions of supports; `registro report check` proves they equal a recount from the supports."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.columns import enum_type, utc_datetime
from registry.states import SituacionRegistral, SupportStatus


class ReportDayCount(SQLModel, table=True):
    """Supports of an aspirant received on one local day, by where they stand now (status and situación)."""

    process_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    aspirant_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    day: date = Field(primary_key=True)
    status: SupportStatus = Field(primary_key=True, sa_type=enum_type(SupportStatus))
    situacion: SituacionRegistral = Field(primary_key=True, sa_type=enum_type(SituacionRegistral))
    n: int = 0


class ReportPlaceCount(SQLModel, table=True):
    """Supports of an aspirant by sección (the roll's place of the citizen), by where they stand now. Place 0:
    not located (not verified yet, or not found in the roll)."""

    process_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    aspirant_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    status: SupportStatus = Field(primary_key=True, sa_type=enum_type(SupportStatus))
    situacion: SituacionRegistral = Field(primary_key=True, sa_type=enum_type(SituacionRegistral))
    state_code: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    district: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    municipality: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seccion: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    n: int = 0


class RollTally(SQLModel, table=True):
    """How many citizens of one roll import are in the Lista Nominal (vigentes), per sección: the threshold's
    base and each dispersion unit's, without counting ten million rows at every report."""

    roll_import_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    state_code: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    district: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    municipality: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seccion: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    vigentes: int = 0


class DailyReport(SQLModel, table=True):
    """The morning report of one process for one local day, queued (registry.reports.daily): written in the same
    transaction as its e-mails, and its key is the guard that makes a second run of that day, even a concurrent
    one, send nothing."""

    process_id: int = Field(primary_key=True, foreign_key="process.id", sa_column_kwargs={"autoincrement": False})
    day: date = Field(primary_key=True)
    messages: int = 0  # e-mails queued: one for the OPL's staff (each address), one per aspirant
    queued_at: datetime = Field(sa_type=utc_datetime())
    # The heads of the report's hash chains when it was built (registry/audit_chain.py `anchor_of`), JSON
    # {"stream": {"seq": N, "hash": "..."}}: `registro audit verify` checks each is still a link of its chain.
    anchor: str = Field(default="", sa_type=sa.Text())
