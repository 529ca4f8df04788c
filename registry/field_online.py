"""The online capture form in two steps, for phones without JavaScript (or when the auxiliary prefers it):
1. the photos are stored and the back is decoded; the page shows the CIC the server read, for confirmation, or
   the advice and the typed-identifier fields when it could not read it;
2. confirming stores the support (idempotent on the draft's key, so a double tap stores one).

Between the steps the draft travels in the page, signed by the web layer; it holds image ids, the server's own
reading and the key, never the photos. Both steps apply the collection window (registry.field_window): step 1
with the server's time as the capture time, before any photo is stored; step 2 with the draft's (signed) time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from capture.result import Reason
from core.db import session_scope
from registry.field import (
    BatchContext,
    capturing_auxiliary,
    field_submission,
    flag_device_time,
    prepare_capture,
    window_flag,
)
from registry.field_batch import FieldCapture
from registry.field_window import WindowRules
from registry.images import CleanImage, ImageStore
from registry.intake.credential import (
    Credential,
    CredentialData,
    TypedIdentifiers,
    credential_from_reading,
    typed_credential,
)
from registry.intake.photos import clean_photos, store_photos
from registry.intake.refusals import Refusal, Refused
from registry.states import CAN_CAPTURE, ImageKind, ReadingSource, SignatureMethod
from registry.supports import SupportReceipt, submit_support


@dataclass(frozen=True)
class Draft:
    client_key: str
    aspirant_id: int
    captured_at: datetime
    signature_method: SignatureMethod
    image_ids: dict[ImageKind, int]
    reading: CredentialData | None  # the server's own reading; None: identifiers must be typed
    qr_text: str | None = None

    def to_json(self) -> dict[str, Any]:
        reading = asdict(self.reading) if self.reading else None
        if reading and reading["expiry"]:
            reading["expiry"] = reading["expiry"].isoformat()
        return {"key": self.client_key, "aspirant": self.aspirant_id, "at": self.captured_at.isoformat(),
                "sig": self.signature_method.value, "img": {k.value: v for k, v in self.image_ids.items()},
                "reading": reading, "qr": self.qr_text}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Draft:
        reading = data["reading"]
        if reading is not None:
            reading = CredentialData(**{**reading, "source": ReadingSource(reading["source"]),
                                        "expiry": date.fromisoformat(reading["expiry"]) if reading["expiry"] else None})
        return cls(client_key=str(data["key"]), aspirant_id=int(data["aspirant"]),
                   captured_at=datetime.fromisoformat(data["at"]), signature_method=SignatureMethod(data["sig"]),
                   image_ids={ImageKind(k): int(v) for k, v in data["img"].items()}, reading=reading,
                   qr_text=data.get("qr"))


def store_draft_images(*, session: Session, store: ImageStore, account_id: int, aspirant_id: int,
                       images: Mapping[ImageKind, CleanImage], now: datetime,
                       rules: WindowRules) -> dict[ImageKind, int]:
    """Step 1's writes: only for an active auxiliary of this aspirant, inside the collection window. Raises
    Refused. The photos were cleaned beforehand (registry.intake.photos.clean_photos), outside it."""
    auxiliary = capturing_auxiliary(session=session, account_id=account_id, aspirant_id=aspirant_id)
    if auxiliary.state not in CAN_CAPTURE:
        raise Refused(Refusal.AUXILIARY_INACTIVE)
    try:
        window_flag(session=session, aspirant_id=aspirant_id, captured_at=now, now=now, rules=rules)
    except Refused as refused:
        # Captured now, by the server's clock: after the close there is no phone time or queue to speak of.
        if refused.code in (Refusal.CAPTURED_AFTER, Refusal.WINDOW_CLOSED):
            raise Refused(Refusal.PROCESS_CLOSED) from refused
        raise
    return store_photos(session=session, store=store, images=images)


def submit_draft(*, session: Session, account_id: int, draft: Draft, typed: TypedIdentifiers | None,
                 today: date, now: datetime, rules: WindowRules) -> SupportReceipt:
    """Step 2: the server's reading, or the typed identifiers as a captura manual. Raises Refused; a draft of
    another account's capture is refused as not of this aspirant. A double tap is
    answered with the first tap's receipt, even once the window has closed since."""
    prepared = prepare_capture(session=session, account_id=account_id, aspirant_id=draft.aspirant_id,
                               client_key=draft.client_key, captured_at=draft.captured_at, now=now, rules=rules)
    if prepared.stored is not None:
        return prepared.stored
    if draft.reading is not None:
        credential = Credential(draft.reading, manual=False)
    else:
        credential = Credential(typed_credential(typed or TypedIdentifiers(), today=today, qr_text=draft.qr_text),
                                manual=True)
    submission = field_submission(auxiliary_id=prepared.auxiliary_id, client_key=draft.client_key,
                                  aspirant_id=draft.aspirant_id, captured_at=draft.captured_at,
                                  credential=credential, image_ids=draft.image_ids,
                                  signature_method=draft.signature_method)
    receipt = submit_support(session=session, submission=submission, actor_account_id=account_id, now=now)
    if prepared.flagged:
        flag_device_time(session, receipt)
    return receipt


def start_draft(context: BatchContext, capture: FieldCapture) -> tuple[Draft, Reason | None]:
    """Step 1, through the same intake as a batch item: the back decoded once by the server (its credential, or
    none: then identifiers are typed in step 2), the photos cleaned outside any transaction, then stored (see
    store_draft_images). Returns the draft and why the back could not be read, if it could not. Raises Refused."""
    decoded = context.decode(capture.images.back or b"")
    try:
        credential: CredentialData | None = credential_from_reading(decoded.reading, None, today=context.today).data
    except Refused as refused:
        if refused.code is not Refusal.UNREADABLE:
            raise
        credential = None
    images = clean_photos(capture.images.present(), context.limits, back=decoded.image)
    with session_scope(context.engine) as session:
        ids = store_draft_images(session=session, store=context.store, account_id=context.account_id,
                                 aspirant_id=capture.aspirant_id, images=images, now=capture.captured_at,
                                 rules=context.window)
    reading = decoded.reading
    draft = Draft(client_key=capture.client_key, aspirant_id=capture.aspirant_id, captured_at=capture.captured_at,
                  signature_method=capture.signature_method, image_ids=ids, reading=credential,
                  qr_text=reading.url.text if reading.url else None)
    return draft, reading.reason
