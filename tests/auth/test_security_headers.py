"""Pages that may show personal data are never cached; the CSP needs no inline script or style anywhere."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient

from auth.roles import Role
from web.templating import TEMPLATES_DIR


def test_pages_of_a_signed_in_person_are_not_stored(client: TestClient, sign_in_with_role: object) -> None:
    sign_in_with_role(client, Role.CITIZEN)  # type: ignore[operator]
    for path in ("/", "/ciudadano", "/entrar", "/no-existe"):
        assert client.get(path).headers["cache-control"] == "no-store", path


def test_the_sign_in_page_is_not_stored_but_the_public_landing_page_may_be(client: TestClient) -> None:
    assert client.get("/entrar").headers["cache-control"] == "no-store"
    assert "cache-control" not in client.get("/").headers


def test_the_content_security_policy_allows_no_inline_code(client: TestClient) -> None:
    policy = client.get("/entrar").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def test_no_template_carries_inline_script_style_or_event_handlers() -> None:
    offenders = []
    for template in sorted(Path(TEMPLATES_DIR).rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        for pattern in (INLINE_SCRIPT, INLINE_STYLE, EVENT_HANDLER):
            if pattern.search(text):
                offenders.append(f"{template.relative_to(TEMPLATES_DIR)}: {pattern.pattern}")
    assert offenders == []
