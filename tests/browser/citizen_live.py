"""What the citizen journeys add to the browser fixtures of tests/browser/conftest.py (live server, phone page,
sign-in through the local provider): a clock the test can move inside the live app, the code read from the mail
outbox folder, script errors collected, and axe-core for the accessibility check. axe-core comes from the npm
registry into the git-ignored node_modules/ (or REGISTRO_AXE_PATH); without it the a11y test skips, unless
REGISTRO_REQUIRE_BROWSER=1 (CI), where it fails."""

from __future__ import annotations

import email
import os
import re
import time
from datetime import datetime, timedelta
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from core.clock import utcnow

REPO_ROOT = Path(__file__).resolve().parents[2]
AXE_DEFAULT = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
CODE_IN_MAIL = re.compile(r"\b([2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4})\b")
SERIOUS = ("serious", "critical")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def skip_or_fail(reason: str) -> None:
    if os.environ.get("REGISTRO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (REGISTRO_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


class MovableClock:
    """Put into the live app (`app.state.clock` is read on every request) to move time without waiting."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset


def movable_clock(app: Starlette) -> MovableClock:
    clock = MovableClock()
    app.state.clock = clock
    return clock


def mail_files(app: Starlette) -> list[Path]:
    outbox: Path = app.state.settings.outbox_dir
    return sorted(outbox.glob("*.eml")) if outbox.is_dir() else []


def wait_for_code_mail(app: Starlette, already: int, timeout_s: float = 10.0) -> str:
    """The code in the next mail of the outbox folder (delivered after the response, in the background)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        files = mail_files(app)
        if len(files) > already:
            message = email.message_from_bytes(files[-1].read_bytes(), policy=default_policy)
            body = message.get_body(preferencelist=("plain",))
            match = CODE_IN_MAIL.search(body.get_content() if body else "")
            assert match, "the mail carries no activation code"
            return match.group(1)
        time.sleep(0.05)
    raise AssertionError("no activation code mail reached the outbox folder")


def wait_for_mail(app: Starlette, already: int, timeout_s: float = 10.0) -> str:
    """The plain-text body of the next mail in the outbox folder (delivered after the response)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        files = mail_files(app)
        if len(files) > already:
            message = email.message_from_bytes(files[already].read_bytes(), policy=default_policy)
            body = message.get_body(preferencelist=("plain",))
            return str(body.get_content()) if body else ""
        time.sleep(0.05)
    raise AssertionError("no mail reached the outbox folder")


def axe_script() -> Path | None:
    path = Path(os.environ.get("REGISTRO_AXE_PATH") or AXE_DEFAULT)
    return path if path.is_file() else None


def load_axe(page: Any) -> bool:
    """Make axe-core present on every page this phone opens; False when it is not installed. An init script is
    injected by the browser itself, so the pages' CSP (no inline script) stays in force; axe-core looks at the
    document when it loads, so it loads once the document exists."""
    path = axe_script()
    if path is None:
        return False
    source = path.read_text(encoding="utf-8")
    page.context.add_init_script(script=f"window.addEventListener('DOMContentLoaded', () => {{\n{source}\n}});")
    return True


def collect_script_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2.1 A and AA rules)."""
    page.wait_for_function("() => typeof window.axe !== 'undefined'")
    found = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return result.violations.map(v => ({id: v.id, impact: v.impact,
                                                nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}));
        }""",
        AXE_TAGS,
    )
    return [f"{page.url}: {v['id']} ({v['impact']}) at {v['nodes']}" for v in found if v["impact"] in SERIOUS]
