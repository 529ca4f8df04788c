"""Named limits on what a channel may send, shared by the web forms and the field batch's JSON: anything longer
is not one of our values, and is refused (or cut) before any work is done on it."""

from __future__ import annotations

from typing import Final

from core.text import MAX_ROW_ID

IDENTIFIER_CHARS: Final = 40  # a CIC, clave de elector or OCR as typed, with spaces and a pasted check digit
ROW_ID_DIGITS: Final = len(str(MAX_ROW_ID))
CLIENT_KEY_CHARS: Final = 64  # a phone's idempotency key
DEVICE_TIME_CHARS: Final = 40  # an ISO 8601 time with offset and fractions
JSON_INTEGER_DIGITS: Final = 20  # longer JSON integers are none of our numbers (Python refuses over 4,300)
