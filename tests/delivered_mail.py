"""Reading mail as delivered: once sent, an outbox row keeps no body (its code or link must not stay in the
database), so tests read what the person received, from the development mailbox folder (one .eml per row id)."""

from __future__ import annotations

import email
import time
from email.policy import default as default_policy
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.audit import OutboxMessage


def delivered_text(outbox_dir: Path, message_id: int | None) -> str:
    assert message_id is not None
    message = email.message_from_bytes((outbox_dir / f"{message_id:08d}.eml").read_bytes(), policy=default_policy)
    body = message.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""


def wait_for_delivery(engine: Engine, outbox_dir: Path, to_address: str, timeout_s: float = 10.0) -> str:
    """The text of the mail to `to_address`, once delivered (a live server sends it after the response)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with Session(engine) as db:
            sent = db.exec(select(OutboxMessage.id).where(OutboxMessage.to_address == to_address,
                                                          col(OutboxMessage.sent_at).is_not(None))).first()
        if sent is not None:
            return delivered_text(outbox_dir, sent)
        time.sleep(0.05)
    raise AssertionError("the mail was not delivered")
