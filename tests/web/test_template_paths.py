"""Pages ask for dozens of route paths; Starlette finds each by trying every route in turn, so the templates
keep the paths an app gave them: the same page a second time asks the router for none and is the same page."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient


def test_a_page_shown_again_asks_the_router_for_no_path(app: Starlette, client: TestClient,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    real = app.url_path_for

    def counting(name: str, /, **params: Any) -> Any:
        asked.append(name)
        return real(name, **params)

    monkeypatch.setattr(app, "url_path_for", counting)
    first = client.get("/")
    first_count = len(asked)
    again = client.get("/")
    assert first.status_code == again.status_code == 200 and first_count > 0
    assert len(asked) == first_count  # every path came from the app's own cache
    assert first.text == again.text


def test_handlers_redirects_and_links_ask_the_router_once_per_path(app: Starlette,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Every wizard step's redirect and each report page's links come from `request.app.url_path_for`."""
    asked: list[str] = []
    real = app.router.url_path_for

    def counting(name: str, /, **params: Any) -> Any:
        asked.append(name)
        return real(name, **params)

    monkeypatch.setattr(app.router, "url_path_for", counting)
    first = app.url_path_for("opl_reports", process_id=7)
    again = app.url_path_for("opl_reports", process_id=7)
    other = app.url_path_for("opl_reports", process_id=8)
    assert (first, again, other) == (real("opl_reports", process_id=7), first, real("opl_reports", process_id=8))
    assert asked == ["opl_reports", "opl_reports"]  # 7 once, 8 once
