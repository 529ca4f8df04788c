"""Audit trail of who did what (written by auth and the domain alike), and the durable e-mail outbox."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel

from core.clock import utcnow
from core.columns import utc_datetime


class AuditEvent(SQLModel, table=True):
    __table_args__ = (
        sa.Index("ix_auditevent_object", "object_type", "object_id"),
        sa.Index("ux_auditevent_chain", "chain_stream", "chain_seq", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    actor_account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    action: str = Field(max_length=80, index=True)
    object_type: str = Field(default="", max_length=40)
    object_id: str = Field(default="", max_length=64)
    # Summaries name fields and states, never personal data (no names, claves, codes).
    before_summary: str = Field(default="", max_length=2000)
    after_summary: str = Field(default="", max_length=2000)
    at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime(), index=True)
    # Hash chain (registry/audit_chain.py): assigned when the transaction commits, never by the writer.
    chain_stream: str | None = Field(default=None, max_length=40)
    chain_seq: int | None = None
    prev_hash: str | None = Field(default=None, max_length=64)
    row_hash: str | None = Field(default=None, max_length=64)


class ChainHead(SQLModel, table=True):
    """The last link of one hash chain (registry/audit_chain.py): locked FOR UPDATE, last, by each transaction
    that appends to the stream, so two transactions never chain onto the same head."""

    stream: str = Field(primary_key=True, max_length=40)
    seq: int = 0  # 0: no row yet
    head_hash: str = Field(max_length=64)


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


DEFERRED_ROWS = "registro_deferred_rows"  # session.info: rows a batch adds together at its end (registry.field)


def add_or_defer(session: Session, row: object) -> None:
    """Add a row nothing reads back before the commit, or, when the caller collects such rows (a batch of many
    writes: `session.info[DEFERRED_ROWS]`, a list), leave it to be added with the others: flushed together, rows
    of one table go in one INSERT instead of one each."""
    deferred = session.info.get(DEFERRED_ROWS)
    if deferred is None:
        session.add(row)
    else:
        deferred.append(row)


def record_audit(
    session: Session,
    *,
    action: str,
    actor_account_id: int | None = None,
    object_type: str = "",
    object_id: object = "",
    before: str = "",
    after: str = "",
) -> AuditEvent:
    """Add an audit row in the caller's transaction. Summaries must not carry personal data."""
    event = AuditEvent(
        action=action, actor_account_id=actor_account_id, object_type=object_type,
        object_id=str(object_id), before_summary=before[:2000], after_summary=after[:2000],
    )
    add_or_defer(session, event)
    return event
