"""Audit trail of who did what, and the durable e-mail outbox."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.clock import utcnow
from core.columns import utc_datetime


class AuditEvent(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_auditevent_object", "object_type", "object_id"),)

    id: int | None = Field(default=None, primary_key=True)
    actor_account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    action: str = Field(max_length=80, index=True)
    object_type: str = Field(default="", max_length=40)
    object_id: str = Field(default="", max_length=64)
    # Summaries name fields and states, never personal data (no names, claves, codes).
    before_summary: str = Field(default="", max_length=2000)
    after_summary: str = Field(default="", max_length=2000)
    at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime(), index=True)


class OutboxMessage(SQLModel, table=True):
    """Mail is written here in the same transaction as what caused it, and delivered afterwards."""

    id: int | None = Field(default=None, primary_key=True)
    to_address: str = Field(max_length=320)
    subject: str = Field(max_length=300)
    body: str = Field(sa_type=sa.Text())
    created_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())
    sent_at: datetime | None = Field(default=None, sa_type=utc_datetime(), index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
