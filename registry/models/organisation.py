"""Who runs a collection: the OPL, its processes, the aspirants and their auxiliaries."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.clock import utcnow
from core.columns import enum_type, utc_datetime
from registry.states import GeoKind, InvitationState, ScopeKind


class Opl(SQLModel, table=True):
    """Organismo Público Local: the state electoral body."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    short_name: str = Field(max_length=40, unique=True)
    state_code: int = Field(ge=1, le=32)


class Process(SQLModel, table=True):
    """A collection process for one office; the threshold rule is data because every local law differs."""

    id: int | None = Field(default=None, primary_key=True)
    opl_id: int = Field(foreign_key="opl.id", index=True)
    name: str = Field(max_length=200)
    office: str = Field(max_length=200)  # cargo: Gubernatura, Diputación local, Presidencia municipal
    scope_kind: ScopeKind = Field(sa_type=enum_type(ScopeKind))
    scope_state: int = Field(ge=1, le=32)
    scope_district: int | None = None
    scope_municipality: int | None = None
    starts_at: datetime = Field(sa_type=utc_datetime())
    ends_at: datetime = Field(sa_type=utc_datetime())
    timezone: str = Field(default="America/Mexico_City", max_length=64)
    threshold_percent: Decimal = Field(max_digits=6, decimal_places=3)  # of the scope's Lista Nominal
    dispersion_unit: GeoKind | None = Field(default=None, sa_type=enum_type(GeoKind))
    dispersion_min_share: Decimal | None = Field(default=None, max_digits=5, decimal_places=4)  # of units
    dispersion_unit_percent: Decimal | None = Field(default=None, max_digits=6, decimal_places=3)  # per unit
    roll_size: int | None = None  # the scope's Lista Nominal total at the cut-off date, for the threshold
    # Mesa de control: the share of ordinary (unflagged) supports drawn for review, and the pace no person keeps
    # up (an auxiliary capturing faster than one support per this many seconds, sustained, is flagged).
    review_sample_percent: int = Field(default=0, ge=0, le=100)
    capture_interval_seconds: int = Field(default=30, ge=1, le=3600)
    # Garantía de audiencia: when the aspirant may file objections (None: from the first rejection, no end).
    objections_open_at: datetime | None = Field(default=None, sa_type=utc_datetime())
    objections_close_at: datetime | None = Field(default=None, sa_type=utc_datetime())
    created_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())


class PaperExceptionMunicipality(SQLModel, table=True):
    """Municipalities authorised for paper (régimen de excepción) in a process."""

    __table_args__ = (sa.UniqueConstraint("process_id", "municipality", name="uq_paperexception"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    municipality: int


class Aspirant(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    full_name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())


class Auxiliary(SQLModel, table=True):
    """A field auxiliary registered by an aspirant (the FURA form's fields)."""

    __table_args__ = (sa.UniqueConstraint("aspirant_id", "email", name="uq_auxiliary_aspirant_email"),)

    id: int | None = Field(default=None, primary_key=True)
    aspirant_id: int = Field(foreign_key="aspirant.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    full_name: str = Field(max_length=200)
    clave_elector: str = Field(max_length=18)
    email: str = Field(max_length=320)
    phone: str = Field(max_length=20)
    state: InvitationState = Field(default=InvitationState.INVITED, sa_type=enum_type(InvitationState))
    invited_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())
    accepted_at: datetime | None = Field(default=None, sa_type=utc_datetime())
    suspended_at: datetime | None = Field(default=None, sa_type=utc_datetime())
