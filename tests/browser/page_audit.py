"""What a browser test asks of the pages it visits: no script error, and no serious axe-core violation (WCAG 2.1
A and AA) on each page it checks, where axe-core is installed."""

from __future__ import annotations

from typing import Any

from tests.browser.citizen_live import collect_script_errors, load_axe, serious_violations

DESKTOP = {"width": 1280, "height": 900}


class PageAudit:
    """Watches one page from now on: its script errors, and axe-core's findings each time `check` is called."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.checked = load_axe(page)
        self.script_errors = collect_script_errors(page)
        self.violations: list[str] = []

    def check(self) -> None:
        """axe-core on the page as it is now (nothing when axe-core is not installed)."""
        if self.checked:
            self.violations.extend(serious_violations(self.page))

    def assert_clean(self) -> None:
        assert self.script_errors == []
        assert self.violations == []


def audit_at(page: Any, size: str) -> PageAudit:
    """The `page` fixture at `size` ("phone", as it opens, or "desktop"), audited from now on."""
    if size == "desktop":
        page.set_viewport_size(DESKTOP)
    return PageAudit(page)
