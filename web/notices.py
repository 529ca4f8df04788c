"""The notice a page shows after a redirect: the handler redirects to `?hecho=<code>` (a code, never personal
data: web/log_privacy.py keeps it in access logs) and the page shows that code's text, or nothing."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request


def done_notice(request: Request, texts: Mapping[str, str]) -> list[dict[str, str]]:
    """The page's `messages`: the text of the `hecho` code in `texts`; an unknown or missing code shows none."""
    text = texts.get(request.query_params.get("hecho", ""))
    return [{"level": "ok", "text": text}] if text else []
