"""Geography catalogue: state (entidad), district, municipality and sección, by INE's numeric keys."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.columns import enum_type
from registry.states import GeoKind


class GeoUnit(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("kind", "state_code", "district", "municipality", "seccion", name="uq_geounit_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: GeoKind = Field(sa_type=enum_type(GeoKind))
    state_code: int = Field(ge=1, le=32, index=True)  # INE's alphabetical order, 01-32
    district: int | None = None
    municipality: int | None = None
    seccion: int | None = None
    name: str = Field(max_length=200)
