"""Accepting an invitation (the OPL's, or an aspirant's to an auxiliary) while nobody is signed in sends the person
to sign in and back to the same link, before the link itself is looked at (web.security.login_first)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from tests.auth.login_flow import csrf_from


@pytest.mark.parametrize("path", ["/opl/invitacion/a1-2-" + "0" * 64, "/campo/invitacion/no-es-un-enlace"])
def test_accepting_without_signing_in_goes_to_sign_in_and_back(client: TestClient, path: str) -> None:
    token = csrf_from(client.get("/entrar").text)
    answer = client.post(path, data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/entrar?siguiente={quote(path, safe='')}"
