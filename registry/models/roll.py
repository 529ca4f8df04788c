"""The Lista Nominal as imported by the OPL: one batch per import, one row per citizen."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.clock import utcnow
from core.columns import enum_type, utc_datetime
from registry.states import RollStatus


class RollImport(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    opl_id: int = Field(foreign_key="opl.id", index=True)
    source_name: str = Field(max_length=255)
    cutoff_date: date
    row_count: int = 0
    completed: bool = False
    imported_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())


class RollEntry(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("roll_import_id", "clave_elector", name="uq_rollentry_import_clave"),
        sa.Index("ix_rollentry_cic", "cic"),
        sa.Index("ix_rollentry_clave_elector", "clave_elector"),
        sa.Index("ix_rollentry_geo", "state_code", "district", "municipality", "seccion"),
    )

    id: int | None = Field(default=None, primary_key=True)
    roll_import_id: int = Field(foreign_key="rollimport.id", index=True)
    clave_elector: str = Field(max_length=18)
    cic: str | None = Field(default=None, max_length=9)
    ocr: str | None = Field(default=None, max_length=13)
    identificador_ciudadano: str | None = Field(default=None, max_length=9)
    nombre: str = Field(max_length=120)
    apellido_paterno: str = Field(default="", max_length=120)
    apellido_materno: str = Field(default="", max_length=120)
    state_code: int = Field(ge=1, le=32)
    district: int
    municipality: int
    seccion: int
    status: RollStatus = Field(default=RollStatus.VIGENTE, sa_type=enum_type(RollStatus))
    baja_reason: str | None = Field(default=None, max_length=80)
