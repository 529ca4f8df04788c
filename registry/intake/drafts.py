"""One signed-draft mechanism for every channel's steps: what a channel gathered so far (ids the server itself
stored, its own reading; never photos) travels in the page, signed and bound to the account, and lasts one
lifetime everywhere. A forged, foreign or stale draft opens to nothing, and the person starts that step again."""

from __future__ import annotations

from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer

DRAFT_SECONDS = 3 * 3600  # a step left open longer starts again (a citizen's code itself lasts 24 hours)


class DraftSeal:
    """Seals and opens one channel's drafts (`channel` keeps one channel's drafts from opening in another)."""

    def __init__(self, secret_key: str, channel: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=f"registro-borrador-{channel}")

    def seal(self, account_id: int, draft: dict[str, Any]) -> str:
        return str(self._serializer.dumps({"cuenta": account_id, "borrador": draft}))

    def open(self, account_id: int, token: str | None) -> dict[str, Any] | None:
        """The draft, if the token is genuine, recent and this account's."""
        if not token:
            return None
        try:
            sealed = self._serializer.loads(token, max_age=DRAFT_SECONDS)
        except BadData:
            return None
        if not isinstance(sealed, dict) or sealed.get("cuenta") != account_id:
            return None
        draft = sealed.get("borrador")
        return draft if isinstance(draft, dict) else None
