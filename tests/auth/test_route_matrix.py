"""The authorization matrix, generated from the code: every route the app serves (including routes added
later, by anyone) × anonymous and every role, checked against what the route declares and ROLE_PERMISSIONS.

Nothing here is kept by hand: a new route is covered the moment it is added to the app. The guard's verdict
is read from what it leaves behind: a refusal writes a `permission_denied` audit row; an anonymous visitor is
sent to the sign-in page. POST routes are sent without a CSRF token, so an allowed one stops at the CSRF check
and no handler with side effects runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from starlette.applications import Starlette
from starlette.convertors import FloatConvertor, IntegerConvertor, UUIDConvertor
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from auth.permissions import ROLE_PERMISSIONS, Permission
from auth.roles import Role
from core.audit import AuditEvent
from web.convertors import RowIdConvertor
from web.security import CSRF_HEADER, PUBLIC, required_permission

PRINCIPALS: list[Role | None] = [None, *Role]


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    needs: Permission | str | None


def _sample(convertor: object) -> object:
    if isinstance(convertor, IntegerConvertor | RowIdConvertor):
        return 987654
    if isinstance(convertor, FloatConvertor):
        return 1.5
    if isinstance(convertor, UUIDConvertor):
        return uuid.UUID(int=1)
    return "muestra"


def _walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[Endpoint]:
    for route in routes:
        if isinstance(route, Mount) and route.name == "static":
            continue
        if isinstance(route, Mount):
            yield from _walk(route.routes, prefix + route.path)
            if not route.routes:  # a mounted app: nothing declares what it needs
                yield Endpoint(route.name or route.path, "GET", prefix + route.path, None)
        elif isinstance(route, Route):
            params = {name: _sample(conv) for name, conv in route.param_convertors.items()}
            method = "GET" if "GET" in (route.methods or {"GET"}) else sorted(route.methods or {"GET"})[0]
            path = prefix + str(route.url_path_for(route.name, **params))
            yield Endpoint(route.name, method, path, required_permission(route.endpoint))
        else:
            yield Endpoint(getattr(route, "name", repr(route)), "GET", getattr(route, "path", ""), None)


def _endpoints(app: Starlette) -> list[Endpoint]:
    return list(_walk(app.routes))


def test_every_route_declares_what_it_needs(app: Starlette) -> None:
    undeclared = [e.name for e in _endpoints(app) if not (e.needs == PUBLIC or isinstance(e.needs, Permission))]
    assert undeclared == [], "wrap these endpoints in @requires(Permission.X) or @public"


def test_the_walk_sees_the_routes_of_every_audience(app: Starlette) -> None:
    names = {e.name for e in _endpoints(app)}
    assert {"login", "logout", "citizen_home", "system_home", "dev_oidc_token"} <= names


def _denials(engine: Engine) -> int:
    with Session(engine) as session:  # short-lived: SQLite transactions here hold the write lock
        return session.exec(select(func.count(col(AuditEvent.id))).where(
            AuditEvent.action == "permission_denied")).one()


def _expectation(needs: Permission | str | None, role: Role | None) -> str:
    if needs == PUBLIC:
        return "allowed"
    if role is None:
        return "sign-in"
    return "allowed" if needs in ROLE_PERMISSIONS[role] else "denied"


@pytest.mark.parametrize("role", PRINCIPALS, ids=lambda role: str(role or "anonymous"))
def test_route_by_role_matrix(app: Starlette, client: TestClient, engine: Engine, sign_in_with_role: object,
                              role: Role | None) -> None:
    if role is not None:
        sign_in_with_role(client, role)  # type: ignore[operator]
        client.headers.pop(CSRF_HEADER)  # state-changing routes must stop at the CSRF check
    wrong = []
    for endpoint in _endpoints(app):
        expected = _expectation(endpoint.needs, role)
        before = _denials(engine)
        answer = client.request(endpoint.method, endpoint.path, follow_redirects=False)
        denied = _denials(engine) - before
        location = answer.headers.get("location", "")
        outcome = ("denied" if denied == 1 and answer.status_code == 403 else
                   "sign-in" if answer.status_code == 401 or location.startswith("/entrar?siguiente=") else
                   "allowed" if denied == 0 else "unclear")
        if outcome != expected or (endpoint.method == "GET" and answer.status_code >= 500):
            wrong.append(f"{endpoint.method} {endpoint.path} ({endpoint.name}, needs {endpoint.needs}): "
                         f"expected {expected}, got {outcome} / HTTP {answer.status_code}")
    assert wrong == []


def test_a_denial_is_audited_with_the_missing_permission(client: TestClient, session: Session,
                                                         sign_in_with_role: object) -> None:
    signed = sign_in_with_role(client, Role.CITIZEN)  # type: ignore[operator]
    assert client.get("/sistema").status_code == 403
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "permission_denied")).one()
    assert (event.actor_account_id, event.object_id) == (signed.account_id, "/sistema")
    assert event.after_summary == Permission.SYSTEM_HOME_VIEW
