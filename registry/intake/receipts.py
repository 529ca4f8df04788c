"""The one idempotency lookup and the one receipt: every channel sends a key with each support (the citizen's
form, the phone's queue), and the same key sent again is answered with the first receipt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from registry.models import Support
from registry.states import SituacionRegistral


@dataclass(frozen=True)
class SupportReceipt:
    support_id: int
    folio: str
    received_at: datetime
    created: bool  # False: this key was already stored, and this is its original receipt
    counts_for_aspirant: bool  # False: the citizen already supported another aspirant for this office


def stored_support(session: Session, idempotency_key: str) -> Support | None:
    return session.exec(select(Support).where(Support.idempotency_key == idempotency_key)).first()


def receipt_of(support: Support, *, created: bool) -> SupportReceipt:
    assert support.id is not None
    counts = support.situacion_registral is not SituacionRegistral.DUPLICADO_OTRO_ASPIRANTE
    return SupportReceipt(support_id=support.id, folio=support.folio, received_at=support.received_at,
                          created=created, counts_for_aspirant=counts)
