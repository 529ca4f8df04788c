"""Every refusal of the intake and of `submit_support`, in one enum, raised one way: `Refused(code, ...)` with
typed data saying which photo, which identifier, which capture reason or which parts are missing. The web layer
maps each code to one message (web/refusals.py), for the pages and the JSON API alike; `detail` is only the
field API's wire format, which the phones' queue already reads."""

from __future__ import annotations

from enum import StrEnum

from capture.identifiers import IdentifierError
from capture.result import Reason
from registry.states import ImageKind


class Refusal(StrEnum):
    # The support itself (registry.supports).
    ASPIRANT_NOT_FOUND = "aspirant_not_found"
    PROCESS_CLOSED = "process_closed"
    ALREADY_SUPPORTED = "already_supported"  # same credential, same aspirant: counts once (LGIPE 385)
    NO_CREDENTIAL = "no_credential"
    KEY_REUSED = "key_reused"  # an idempotency key sent again with different content
    AUXILIARY_INACTIVE = "auxiliary_inactive"
    AUXILIARY_NOT_OF_ASPIRANT = "auxiliary_not_of_aspirant"
    # The credential and the photos.
    UNREADABLE = "unreadable"  # the back could not be read and no identifiers were typed
    CREDENTIAL_EXPIRED = "credential_expired"
    INVALID_IDENTIFIER = "invalid_identifier"
    BAD_IMAGE = "bad_image"
    INCOMPLETE = "incomplete"  # a required photo (front, live photo, signature) is missing
    # The collection window (registry.field_window).
    WINDOW_NOT_OPEN = "window_not_open"
    WINDOW_CLOSED = "window_closed"
    CAPTURED_BEFORE = "captured_before_window"
    CAPTURED_AFTER = "captured_after_window"


WINDOW_REFUSALS = frozenset({Refusal.WINDOW_NOT_OPEN, Refusal.WINDOW_CLOSED, Refusal.CAPTURED_BEFORE,
                             Refusal.CAPTURED_AFTER})


class Refused(Exception):
    """Will not be stored as sent. `photo` and `reason`: which photo was unusable and why (BAD_IMAGE), or why the
    back could not be read (UNREADABLE); `identifier` and `problem`: which typed identifier failed and how
    (INVALID_IDENTIFIER); `missing`: the photos a capture lacks (INCOMPLETE)."""

    def __init__(self, code: Refusal, *, photo: ImageKind | None = None, reason: Reason | None = None,
                 identifier: str | None = None, problem: IdentifierError | None = None,
                 missing: tuple[ImageKind, ...] = ()) -> None:
        super().__init__(code.value)
        self.code = code
        self.photo, self.reason = photo, reason
        self.identifier, self.problem = identifier, problem
        self.missing = missing

    @property
    def detail(self) -> str:
        """`back:not_an_image`, `cic:wrong_length`, `no_qr_found`, `front,signature` or empty."""
        if self.code is Refusal.BAD_IMAGE:
            return f"{self.photo}:{self.reason}"
        if self.code is Refusal.UNREADABLE:
            return str(self.reason or Reason.MRZ_UNREADABLE)
        if self.code is Refusal.INVALID_IDENTIFIER:
            return f"{self.identifier}:{self.problem}"
        if self.code is Refusal.INCOMPLETE:
            return ",".join(self.missing)
        return ""
