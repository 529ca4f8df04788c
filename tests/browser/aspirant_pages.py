"""What the browser tests read off the aspirant's pages."""

from __future__ import annotations

from typing import Any


def progress_counts(page: Any) -> dict[str, int]:
    """The totals of the first process on /aspirante, by their Spanish label ("Cuentan", "No cuentan", ...)."""
    totals = page.locator(".aspirant-process .progress-totals div")
    return {totals.nth(i).locator("dt").inner_text(): int(totals.nth(i).locator("dd").inner_text())
            for i in range(totals.count())}
