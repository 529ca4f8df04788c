"""The Lista Nominal as imported by the OPL: one batch per import, one row per citizen, and the rows refused.

Only one import per OPL is CURRENT at a time: readers and the compulsa read that one, so a new cut-off replaces
the previous roll in one switch (an UPDATE of two RollImport rows), never row by row."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.clock import utcnow
from core.columns import enum_type, utc_datetime
from core.sealing import BLIND_INDEX_CHARS, keep_blind_indexes
from registry.states import RollImportState, RollStatus


class RollImport(SQLModel, table=True):
    __table_args__ = (
        # At most one roll in force per OPL; the switch supersedes the old one in the same transaction.
        sa.Index("uq_rollimport_current", "opl_id", unique=True,
                 postgresql_where=sa.text("state = 'current'"), sqlite_where=sa.text("state = 'current'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    opl_id: int = Field(foreign_key="opl.id", index=True)
    source_name: str = Field(max_length=255)
    format_label: str = Field(default="", max_length=80)
    cutoff_date: date
    state: RollImportState = Field(default=RollImportState.LOADING, sa_type=enum_type(RollImportState))
    row_count: int = 0  # rows loaded (valid, first of their clave)
    rows_rejected: int = 0
    imported_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())
    switched_at: datetime | None = Field(default=None, sa_type=utc_datetime())


class RollEntry(SQLModel, table=True):
    """One citizen of one import. The key is (import, clave de elector): a clave is one citizen in the Padrón.

    No foreign key to rollimport: the rows of an import live and die with it (on PostgreSQL, one partition per
    import, attached at the switch and dropped when superseded), and a 10-million-row foreign-key validation at
    every switch would buy nothing."""

    # The compulsa joins supports to the roll by blind indexes (core/sealing.py), computed at import.
    __table_args__ = (
        sa.Index("ix_rollentry_cic", "cic_bidx"),
        sa.Index("ix_rollentry_ocr", "ocr_bidx"),
        sa.Index("ix_rollentry_identificador", "identificador_bidx"),
        sa.Index("ix_rollentry_clave", "roll_import_id", "clave_elector_bidx"),
    )

    roll_import_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    clave_elector: str = Field(primary_key=True, max_length=18)
    source_line: int = 0  # the row's line in the imported file: where to look when a match is questioned
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
    cic_bidx: str | None = Field(default=None, max_length=BLIND_INDEX_CHARS)
    ocr_bidx: str | None = Field(default=None, max_length=BLIND_INDEX_CHARS)
    identificador_bidx: str | None = Field(default=None, max_length=BLIND_INDEX_CHARS)
    clave_elector_bidx: str | None = Field(default=None, max_length=BLIND_INDEX_CHARS)


class RollRejection(SQLModel, table=True):
    """A row of the file that was not loaded, with its line and why (never the row's content: personal data)."""

    id: int | None = Field(default=None, primary_key=True)
    roll_import_id: int = Field(foreign_key="rollimport.id", index=True)
    line: int
    reason: str = Field(max_length=300)


keep_blind_indexes(RollEntry, {
    "cic": ("cic_bidx", "cic"), "ocr": ("ocr_bidx", "ocr"), "identificador_ciudadano": ("identificador_bidx",
    "identificador"), "clave_elector": ("clave_elector_bidx", "clave_elector")})
